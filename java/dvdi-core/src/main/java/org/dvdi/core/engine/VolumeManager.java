package org.dvdi.core.engine;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.config.DvdiConfig.Step;
import org.dvdi.core.engine.MountTable.Actor;
import org.dvdi.core.engine.ProviderCalls.Op;
import org.dvdi.core.engine.Results.Bind;
import org.dvdi.core.engine.Results.CleanupResult;
import org.dvdi.core.engine.Results.PrepareResult;
import org.dvdi.core.engine.Results.PreparedVolume;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.seams.Host;
import org.dvdi.core.seams.CrashHook;
import org.dvdi.core.seams.Scheduler;
import org.dvdi.core.seams.Seams;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;

/**
 * The engine's protocol: prepare and cleanup of containers on top of the {@link MountTable}
 * (decisions, no I/O), the {@link ProviderCalls} (deadlines, abandonment, a pool per
 * provider) and one lane per volume ({@link VolumeSteps}, in order). {@link Recovery}, the
 * {@link Reaper} and the {@link OperatorActions} are built on the same steps.
 *
 * <p>A volume (driver, name) is attached and mounted once per host; each container that
 * uses it holds a reference; the last release unmounts and detaches it. Every step is written
 * to the state store before the provider is called (intent) and after (outcome). A container
 * whose volumes are all mounted (state says so and the kernel agrees) takes a fast path: one
 * state record, no provider call, no provider thread.
 */
public final class VolumeManager implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(VolumeManager.class.getName());

  /** Container ids of operators' mounts ({@code dvdi mount}). */
  public static final String OPERATOR_PREFIX = MountTable.OPERATOR_PREFIX;

  /** Linux clone flag of a new mount namespace. */
  public static final long CLONE_NEWNS = 0x00020000L;

  /** Threads for short work that never waits for a provider: parsing, fast paths. */
  static final int CONTROL_THREADS = 4;
  /**
   * Threads that finish slow-path operations after their provider calls (outcome records,
   * rollbacks, results): kept apart from the control threads, so that the state writes of
   * many ending provider calls never queue a container that needs no provider call.
   */
  static final int SETTLE_THREADS = 4;

  final DvdiConfig config;
  final StateStore state;
  final ProviderRegistry providers;
  final Commands commands;
  /** The host the engine asks about mounts, devices, processes and the boot. */
  final Host host;
  /** The step boundaries where a test may crash this process (nothing in production). */
  final CrashHook crash;
  final KernelTruth kernel;
  final String bootId;
  private final String owner;
  final Scheduler scheduler;
  final Metrics metrics;
  private final Executor control;
  private final Executor settle;
  final ProviderCalls calls;
  final KeyedSequencer<VolumeKey> lanes;
  /** Containers whose prepare runs in this process (the reaper leaves them alone). */
  private final Set<String> preparing = ConcurrentHashMap.newKeySet();
  /** Cleanups under way, so that a second cleanup of a container joins the first. */
  private final Map<String, CompletableFuture<CleanupResult>> cleanups = new ConcurrentHashMap<>();
  private final Recovery recovery;
  private final Reaper reaper;
  private final OperatorActions operators;
  private final LaunchPlanner planner;
  final VolumeSteps steps;

  public VolumeManager(DvdiConfig config, StateStore state, ProviderRegistry providers, Commands commands, String writer) {
    this(config, state, providers, commands, writer, Seams.real());
  }

  /**
   * An engine on {@code seams}: this machine's ({@link Seams#real}), or the simulation's in its
   * tests; {@link #close} closes their scheduler.
   */
  public VolumeManager(DvdiConfig config, StateStore state, ProviderRegistry providers, Commands commands, String writer,
      Seams seams) {
    this.config = config;
    this.state = state;
    this.providers = providers;
    this.commands = commands;
    this.scheduler = seams.scheduler();
    this.host = seams.host();
    this.crash = seams.crash();
    this.kernel = new KernelTruth(host);
    this.bootId = host.bootId();
    this.owner = ProcessOwner.of(writer, host);
    this.metrics = new Metrics(scheduler::nanoTime);
    this.control = scheduler.pool("dvdi-control", CONTROL_THREADS, false);
    this.settle = scheduler.pool("dvdi-settle", SETTLE_THREADS, false);
    this.calls = new ProviderCalls(config, metrics, scheduler, crash);
    this.lanes = new KeyedSequencer<>(k -> calls.pool(k.driver()));
    this.recovery = new Recovery(this);
    this.reaper = new Reaper(this);
    this.operators = new OperatorActions(this);
    this.planner = new LaunchPlanner(config);
    this.steps = new VolumeSteps(this);
  }

  public Metrics metrics() {
    return metrics;
  }

  public StateStore state() {
    return state;
  }

  public ProviderRegistry providers() {
    return providers;
  }

  public DvdiConfig config() {
    return config;
  }

  /** The executor for short work that never waits for a provider (parsing, fast paths). */
  public Executor executor() {
    return control;
  }

  /** Who acts now, for the mount table's records. */
  Actor actor() {
    return new Actor(owner, bootId, scheduler.currentTimeMillis(), this::ownerAlive);
  }

  /** An intent owner whose process still runs on this engine's host; see {@link ProcessOwner}. */
  boolean ownerAlive(String owner) {
    return ProcessOwner.alive(host, owner);
  }

  /** What the kernel says of a volume: whether it is mounted (see {@link KernelTruth}). */
  Predicate<Volume> kernelHas() {
    return kernel::mounted;
  }

  /** As {@link #kernelHas()}, asking {@code table} (read once for all the volumes asked about) where the mount table decides. */
  Predicate<Volume> kernelHas(KernelMounts table) {
    return v -> kernel.mounted(v, () -> table);
  }

  boolean preparing(String cid) {
    return preparing.contains(cid);
  }

  /**
   * A container left PREPARING or CLEANING by a dvdi process that ended (an operator's
   * {@code dvdi mount} or {@code unmount} killed midway): it is cleaned up.
   */
  boolean leftByEndedProcess(org.dvdi.core.state.proto.Container c) {
    return MountTable.leftByEndedProcess(c, preparing(c.getId()), this::ownerAlive);
  }

  // ------------------------------------------------------------------ prepare

  /**
   * Prepares a container: every volume it asks for is mounted on this host (once per host)
   * and bound at its target. All or nothing: if one volume fails, those already acquired
   * are released again and the container is forgotten.
   */
  public CompletableFuture<PrepareResult> prepare(PrepareRequest req) {
    return measured("prepare", () -> prepareStart(req)).whenComplete((r, e) -> {
      if (e != null) {
        LOG.warning("prepare of container " + req.containerId() + " failed: " + DvdiException.wrap(e, "prepare"));
      }
    });
  }

  /** Starts an operation, counting it ({@code <op>_ok}, {@code <op>_failed}) and timing it ({@code <op>_ms}). */
  <T> CompletableFuture<T> measured(String op, Supplier<CompletableFuture<T>> start) {
    long t0 = scheduler.nanoTime();
    CompletableFuture<T> f;
    try {
      f = start.get();
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    return f.whenComplete((r, e) -> {
      metrics.time(op, t0);
      metrics.count(op + (e == null ? "_ok" : "_failed"));
    });
  }

  private CompletableFuture<PrepareResult> prepareStart(PrepareRequest req) {
    if (req.volumes().isEmpty()) {
      return CompletableFuture.completedFuture(new PrepareResult(req.containerId(), List.of(), Map.of(), List.of()));
    }
    // Everything that can be checked is checked before anything is done.
    LaunchPlan plan = planner.plan(req);
    for (VolumeRequest v : req.volumes()) {
      providers.get(v.driver()).validate(v.name(), v.options());
    }
    String cid = req.containerId();
    if (!preparing.add(cid)) {
      throw DvdiException.invalid("container " + cid + " is being prepared already");
    }
    CompletableFuture<PrepareResult> out;
    try {
      out = prepareVolumes(req, plan);
    } catch (RuntimeException e) {
      out = CompletableFuture.failedFuture(e);
    }
    return out.whenComplete((r, e) -> preparing.remove(cid));
  }

  private CompletableFuture<PrepareResult> prepareVolumes(PrepareRequest req, LaunchPlan plan) {
    String cid = req.containerId();
    Map<VolumeKey, String> targets = plan.bindTargets();
    Predicate<Volume> kernel = kernelHas();
    Map<VolumeKey, String> fast = state.mutate((view, ch) -> MountTable.beginPrepare(view, ch, req, targets, kernel, actor()));
    crash.reached("prepare.container-recorded");
    if (fast != null) {
      try {
        planner.createTargets(plan);
      } catch (RuntimeException e) {
        return cleanup(cid).<PrepareResult>handle((r, x) -> {
          throw new CompletionException(e);
        });
      }
      metrics.count("prepare_fast_path");
      return CompletableFuture.completedFuture(result(req, targets, fast, true));
    }
    long deadline = scheduler.nanoTime() + prepareBound().toNanos();
    List<Op<Boolean>> ops = new ArrayList<>();
    for (VolumeRequest v : req.volumes()) {
      Op<Boolean> op = new Op<>();
      calls.bound(op, prepareBound(), "prepare of " + v.key() + " for container " + cid);
      ops.add(op);
      lanes.submit(v.key(), () -> steps.acquire(req, v, op)).whenComplete((r, e) -> {
        if (e != null) {
          op.caller.completeExceptionally(e);
        } else {
          op.caller.complete(r);
        }
      });
    }
    CompletableFuture<?>[] callers = ops.stream().map(o -> o.caller).toArray(CompletableFuture<?>[]::new);
    return CompletableFuture.allOf(callers).<CompletableFuture<PrepareResult>>handleAsync((x, err) -> {
      if (err == null) {
        try {
          planner.createTargets(plan);
          Predicate<Volume> kernelNow = kernelHas();
          Map<VolumeKey, String> hostPaths = state.mutate((view, ch) -> MountTable.prepared(view, ch, cid, kernelNow));
          crash.reached("prepare.ready");
          return CompletableFuture.completedFuture(result(req, targets, hostPaths, false));
        } catch (RuntimeException e) {
          err = e;
        }
      }
      DvdiException first = firstFailure(ops, err);
      metrics.count("prepare_rollbacks");
      CompletableFuture<CleanupResult> rollback = cleanup(cid).whenComplete((r, e) -> {
        if (r != null && !r.failures().isEmpty()) {
          LOG.warning("rollback of container " + cid + " left volumes to retry: " + r.failures());
        }
      });
      if (ops.stream().anyMatch(o -> o.abandoned() != null)) {
        // A call past its deadline still holds its volume's lane: the rollback waits for it
        // and then undoes it; the caller learns of the timeout now.
        return CompletableFuture.<PrepareResult>failedFuture(first);
      }
      // The caller learns of the failure when the rollback is done, or when the prepare's
      // bound has passed (the rollback goes on; what it leaves is retried).
      CompletableFuture<PrepareResult> answer = new CompletableFuture<>();
      rollback.whenComplete((r, e2) -> answer.completeExceptionally(first));
      Scheduler.Cancellable late = scheduler.schedule(Duration.ofNanos(Math.max(0, deadline - scheduler.nanoTime())),
          () -> answer.completeExceptionally(first));
      answer.whenComplete((r, e2) -> late.cancel());
      return answer;
    }, settle).thenCompose(Function.identity());
  }

  /**
   * The longest a prepare may take before it answers (TIMEOUT at the latest): one volume's
   * steps' timeouts, each with its grace (the volumes of a container are prepared in parallel).
   */
  public Duration prepareBound() {
    return ProviderCalls.budget(config, Step.INSPECT, Step.CREATE, Step.ATTACH, Step.MOUNT);
  }

  /**
   * The longest a cleanup may take before it answers: its volumes' releases run in parallel,
   * each within its unmount's and detach's deadlines (with their grace).
   */
  public Duration cleanupBound() {
    return Recovery.releaseBudget(config);
  }

  /** The longest a recovery may take before it answers; see {@link Recovery#bound}. */
  public Duration recoverBound() {
    return Recovery.bound(config);
  }

  /** The longest these steps of one volume take, one after the other (their deadlines, each with its grace). */
  public Duration stepsBound(Step... steps) {
    return ProviderCalls.budget(config, steps);
  }

  private static DvdiException firstFailure(List<Op<Boolean>> ops, Throwable dflt) {
    for (Op<Boolean> o : ops) {
      if (o.caller.isCompletedExceptionally()) {
        try {
          o.caller.join();
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
          return DvdiException.wrap(e, "prepare");
        }
      }
    }
    return DvdiException.wrap(dflt, "prepare");
  }

  private static PrepareResult result(PrepareRequest req, Map<VolumeKey, String> targets, Map<VolumeKey, String> hostPaths,
      boolean fast) {
    List<Bind> binds = new ArrayList<>();
    Map<String, String> env = new TreeMap<>();
    List<PreparedVolume> vols = new ArrayList<>();
    for (VolumeRequest v : req.volumes()) {
      String host = hostPaths.get(v.key());
      String target = targets.get(v.key());
      if (!target.isEmpty()) {
        binds.add(new Bind(host, target, v.readOnly()));
      } else if (v.envSuffix() != null) {
        env.put(EnvRequests.HOSTPATH_EXPORT + v.envSuffix(), host);
      }
      vols.add(new PreparedVolume(v.key(), host, target, v.readOnly(), fast));
    }
    return new PrepareResult(req.containerId(), binds, env, vols);
  }

  // ------------------------------------------------------------------ cleanup

  /**
   * Releases a container's volumes: each is unmounted and detached when this container was
   * its last user. Unknown containers are fine (nothing to do). A release that fails is kept
   * in state and retried; the failure is reported in the result, not as an error, since
   * the container is gone either way. A second cleanup of a container joins the first. The
   * work runs on the settle pool: the caller (a bridge thread) never waits for a state write.
   */
  public CompletableFuture<CleanupResult> cleanup(String cid) {
    if (!cid.startsWith(OPERATOR_PREFIX) && state.container(cid) == null && !preparing(cid) && !cleanups.containsKey(cid)) {
      // A Mesos container only this process records: unknown here is unknown (a container
      // without volumes), answered without the state lock.
      metrics.count("cleanup_unknown");
      return CompletableFuture.completedFuture(new CleanupResult(cid, false, List.of(), List.of()));
    }
    CompletableFuture<CleanupResult> mine = new CompletableFuture<>();
    CompletableFuture<CleanupResult> running = cleanups.putIfAbsent(cid, mine);
    if (running != null) {
      return running;
    }
    measured("cleanup", () -> CompletableFuture.supplyAsync(() -> cleanupStart(cid), settle)
        .thenCompose(Function.identity())).whenComplete((r, e) -> {
      cleanups.remove(cid, mine);
      if (e != null) {
        mine.completeExceptionally(e);
      } else {
        if (!r.failures().isEmpty()) {
          metrics.count("cleanup_left_releases");
        }
        mine.complete(r);
      }
    });
    return mine;
  }

  private CompletableFuture<CleanupResult> cleanupStart(String cid) {
    List<VolumeKey> toRelease = state.mutate((view, ch) -> MountTable.beginCleanup(view, ch, cid, actor()));
    crash.reached("cleanup.begun");
    if (toRelease == null) {
      return CompletableFuture.completedFuture(new CleanupResult(cid, false, List.of(), List.of()));
    }
    if (toRelease.isEmpty()) {
      return CompletableFuture.completedFuture(new CleanupResult(cid, true, List.of(), List.of()));
    }
    List<Op<Boolean>> ops = new ArrayList<>();
    for (VolumeKey k : toRelease) {
      Op<Boolean> op = new Op<>();
      ops.add(op);
      // The cleanup answers within its bound, also while the volume's lane is held by a call
      // past its deadline (a prepare's); the release is then left to the retry loop.
      calls.bound(op, cleanupBound(), "release of " + k + " for the cleanup of container " + cid);
      lanes.submit(k, () -> steps.releaseUse(cid, k, op)).whenComplete((r, e) -> {
        if (e != null) {
          op.caller.completeExceptionally(e);
        } else {
          op.caller.complete(r);
        }
      });
    }
    CompletableFuture<?>[] callers = ops.stream().map(o -> o.caller).toArray(CompletableFuture<?>[]::new);
    return CompletableFuture.allOf(callers).handleAsync((x, e) -> {
      List<VolumeKey> released = new ArrayList<>();
      List<String> failures = new ArrayList<>();
      for (int i = 0; i < ops.size(); i++) {
        try {
          if (ops.get(i).caller.join()) {
            released.add(toRelease.get(i));
          }
        } catch (CompletionException | java.util.concurrent.CancellationException err) {
          failures.add(toRelease.get(i) + ": " + DvdiException.wrap(err, "release"));
        }
      }
      state.mutate((view, ch) -> {
        MountTable.forgetContainer(view, ch, cid);
        return null;
      });
      crash.reached("cleanup.forgotten");
      if (!failures.isEmpty()) {
        LOG.warning("cleanup of container " + cid + ": could not release " + failures + "; retrying with backoff from "
            + config.retryInterval().toMillis() + " ms (see `dvdi mounts`)");
      }
      return new CleanupResult(cid, true, released, failures);
    }, settle);
  }

  // ------------------------------------------------------------------ recovery, reaper, operators

  /**
   * Recovers after an agent restart; see {@link Recovery}. {@code live} are the containers
   * the agent recovered, {@code orphans} those it knows and will clean up itself.
   */
  public CompletableFuture<RecoverResult> recover(Set<String> live, Set<String> orphans) {
    return measured("recover", () -> {
      // Recovery waits for many steps: on a thread of its own, never one the steps need.
      CompletableFuture<RecoverResult> f = new CompletableFuture<>();
      scheduler.start("dvdi-recover", () -> {
        try {
          f.complete(recovery.recover(live, orphans));
        } catch (Throwable e) {
          f.completeExceptionally(e);
        }
      });
      return f;
    });
  }

  /** Starts retrying leftover steps (failed releases, steps of processes that died); see {@link Reaper}. */
  public void startReaper() {
    reaper.start();
  }

  /** An operator's mount ({@code dvdi mount}): held by {@code operator:<driver>/<name>} until unmounted. */
  public CompletableFuture<PrepareResult> operatorMount(VolumeKey key, VolumeOptions options, boolean explicitCreate) {
    return operators.mount(key, options, explicitCreate);
  }

  /** Drops an operator's mount ({@code dvdi unmount}). */
  public CompletableFuture<CleanupResult> operatorUnmount(VolumeKey key) {
    return operators.unmount(key);
  }

  /** Releases a volume no container uses ({@code dvdi release}); see {@link OperatorActions#release}. */
  public CompletableFuture<Void> operatorRelease(VolumeKey key, boolean force) {
    return operators.release(key, force);
  }

  /** Every known container id, for tests and the CLI. */
  public Set<String> containers() {
    return new HashSet<>(state.view().containers().keySet());
  }

  @Override
  public void close() {
    reaper.close();
    scheduler.close();
  }
}
