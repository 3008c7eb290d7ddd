package org.dvdi.core.engine;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.config.DvdiConfig.Step;
import org.dvdi.core.engine.Results.Bind;
import org.dvdi.core.engine.Results.CleanupResult;
import org.dvdi.core.engine.Results.PrepareResult;
import org.dvdi.core.engine.Results.PreparedVolume;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Option;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.HostInfo;
import org.dvdi.spi.host.KernelMounts;

/**
 * The mount table at work: prepare, cleanup and recover for containers, and the operator's
 * mount, unmount and release. A volume (driver, name) is attached and mounted once per host;
 * each container that uses it holds a reference; the last release unmounts and detaches it.
 *
 * <p>Every step is written to the state store before the provider is called (intent) and
 * after (outcome). Steps on one volume run in order on its lane; different volumes run in
 * parallel. A container whose volumes are all mounted already takes a fast path: one state
 * record, no provider call.
 */
public final class VolumeManager implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(VolumeManager.class.getName());

  /** Container ids of operators' mounts ({@code dvdi mount}); never Mesos's, never released by recovery. */
  public static final String OPERATOR_PREFIX = "operator:";

  /** Linux clone flag of a new mount namespace. */
  public static final long CLONE_NEWNS = 0x00020000L;

  private static final Pattern USER = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,31}[$]?");

  private final DvdiConfig config;
  private final StateStore state;
  private final ProviderRegistry providers;
  private final Commands commands;
  private final String bootId;
  private final String owner;
  private final Metrics metrics = new Metrics();
  private final ThreadPoolExecutor workers;
  private final ExecutorService calls;
  private final ScheduledExecutorService reaper;
  private final KeyedSequencer<VolumeKey> lanes;

  public VolumeManager(DvdiConfig config, StateStore state, ProviderRegistry providers, Commands commands, String writer) {
    this.config = config;
    this.state = state;
    this.providers = providers;
    this.commands = commands;
    this.bootId = HostInfo.bootId();
    this.owner = writer + ":" + ProcessHandle.current().pid() + ":" + bootId;
    this.workers = new ThreadPoolExecutor(config.workers(), config.workers(), 60, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), daemon("dvdi-worker"));
    this.workers.allowCoreThreadTimeOut(true);
    this.calls = Executors.newCachedThreadPool(daemon("dvdi-call"));
    this.reaper = Executors.newSingleThreadScheduledExecutor(daemon("dvdi-reaper"));
    this.lanes = new KeyedSequencer<>(workers);
  }

  private static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
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

  /** The executor for short work (parsing, fast paths). */
  public ExecutorService executor() {
    return workers;
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
  private <T> CompletableFuture<T> measured(String op, java.util.function.Supplier<CompletableFuture<T>> start) {
    long t0 = System.nanoTime();
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
    Map<VolumeKey, String> targets = new LinkedHashMap<>();
    for (VolumeRequest v : req.volumes()) {
      VolumeProvider p = providers.get(v.driver());
      p.validate(v.name(), v.options());
      targets.put(v.key(), LaunchPlanner.target(config, req, v));
    }
    String cid = req.containerId();
    // Fast path: every volume is mounted here already; one record, no provider call.
    // Their host paths when the fast path is taken, null otherwise.
    Map<VolumeKey, String> fast = state.mutate((view, ch) -> {
      if (view.container(cid) != null) {
        throw DvdiException.invalid("container " + cid + " is already prepared (dvdi state has it since "
            + java.time.Instant.ofEpochMilli(view.container(cid).getSinceMs()) + ")");
      }
      for (VolumeRequest v : req.volumes()) {
        if (!isLive(view.volume(v.key()))) {
          ch.putContainer(container(req, targets, ContainerStatus.PREPARING, Set.of()));
          return null;
        }
      }
      ch.putContainer(container(req, targets, ContainerStatus.READY, targets.keySet()));
      return hostPaths(req, view);
    });
    if (fast != null) {
      try {
        for (VolumeRequest v : req.volumes()) {
          LaunchPlanner.createTarget(config, req, v);
        }
      } catch (RuntimeException e) {
        return cleanup(cid).<PrepareResult>handle((r, x) -> {
          throw new CompletionException(e);
        });
      }
      metrics.count("prepare_fast_path");
      return CompletableFuture.completedFuture(result(req, targets, fast, true));
    }
    List<CompletableFuture<Boolean>> acquisitions = new ArrayList<>();
    for (VolumeRequest v : req.volumes()) {
      acquisitions.add(lanes.submit(v.key(), () -> acquire(req, v)));
    }
    return CompletableFuture.allOf(acquisitions.toArray(new CompletableFuture<?>[0]))
        .<CompletableFuture<PrepareResult>>handleAsync((x, err) -> {
          if (err == null) {
            try {
              for (VolumeRequest v : req.volumes()) {
                LaunchPlanner.createTarget(config, req, v);
              }
              state.mutate((view, ch) -> {
                Container c = view.container(cid);
                ch.putContainer(c.toBuilder().setStatus(ContainerStatus.READY).build());
                return null;
              });
              return CompletableFuture.completedFuture(result(req, targets, hostPaths(req, state.view()), false));
            } catch (RuntimeException e) {
              err = e;
            }
          }
          DvdiException first = firstFailure(acquisitions, err);
          return rollback(cid).<PrepareResult>handle((r, e2) -> {
            throw new CompletionException(first);
          });
        }, workers)
        .thenCompose(Function.identity());
  }

  private static DvdiException firstFailure(List<CompletableFuture<Boolean>> fs, Throwable dflt) {
    for (CompletableFuture<Boolean> f : fs) {
      if (f.isCompletedExceptionally()) {
        try {
          f.join();
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
          return DvdiException.wrap(e, "prepare");
        }
      }
    }
    return DvdiException.wrap(dflt, "prepare");
  }

  /** Releases what a failed prepare acquired and forgets the container. */
  private CompletableFuture<CleanupResult> rollback(String cid) {
    metrics.count("prepare_rollbacks");
    return cleanup(cid).whenComplete((r, e) -> {
      if (r != null && !r.failures().isEmpty()) {
        LOG.warning("rollback of container " + cid + " left volumes to retry: " + r.failures());
      }
    });
  }

  private boolean isLive(Volume v) {
    return v != null && v.getStatus() == VolumeStatus.MOUNTED && v.getBootId().equals(bootId);
  }

  /** Acquires one volume for a container, on the volume's lane. Returns true for the fast path. */
  private boolean acquire(PrepareRequest req, VolumeRequest v) {
    VolumeKey key = v.key();
    String cid = req.containerId();
    Boolean fast = state.mutate((view, ch) -> {
      Volume cur = view.volume(key);
      if (isLive(cur)) {
        ch.putContainer(withUse(view.container(cid), key, true));
        return true;
      }
      checkNotInFlight(cur, key);
      ch.putVolume(intent(key, v.options(), cur));
      return false;
    });
    if (fast) {
      return true;
    }
    VolumeProvider p = providers.get(v.driver());
    try {
      Optional<VolumeInfo> info = call(p, Step.INSPECT, "inspect " + key, ctx -> p.inspect(v.name(), ctx));
      if (info.isEmpty()) {
        if (v.explicitCreate()) {
          throw DvdiException.notFound("volume " + key + " does not exist, and " + v.source()
              + " asks for explicit creation only (DVDI_VOLUME_EXPLICITCREATE=true)");
        }
        call(p, Step.CREATE, "create " + key, ctx -> p.create(v.name(), v.options(), ctx));
      }
      Volume mounted = attachAndMount(p, key, v.options(), req.user());
      state.mutate((view, ch) -> {
        ch.putVolume(mounted);
        ch.putContainer(withUse(view.container(cid), key, true));
        return null;
      });
      LOG.info("mounted " + key + " at " + mounted.getHostPath() + " for container " + cid);
      return false;
    } catch (RuntimeException e) {
      undo(p, key, e);
      throw e;
    }
  }

  /** Attach and mount (both idempotent); returns the MOUNTED record. */
  private Volume attachAndMount(VolumeProvider p, VolumeKey key, VolumeOptions options, String user) {
    Attachment att = call(p, Step.ATTACH, "attach " + key, ctx -> p.attach(key.name(), options, ctx));
    MountedVolume mv = call(p, Step.MOUNT, "mount " + key, ctx -> p.mount(key.name(), options, att, ctx));
    Map<String, String> data = new TreeMap<>(att.providerData());
    data.putAll(mv.providerData());
    boolean formatted = "true".equals(data.remove(BlockVolumes.DATA_FORMATTED));
    if (formatted && user != null && !user.equals("root")) {
      chown(mv.hostPath(), user, key);
    }
    return Volume.newBuilder().setDriver(key.driver()).setName(key.name()).setStatus(VolumeStatus.MOUNTED)
        .addAllOptions(options(options)).setHostPath(mv.hostPath())
        .setDevice(mv.device().isEmpty() ? att.device() : mv.device()).putAllProviderData(data)
        .setBootId(bootId).setSinceMs(System.currentTimeMillis()).build();
  }

  /** A new filesystem's root belongs to the container's user, so that a non-root task can write. */
  private void chown(String path, String user, VolumeKey key) {
    if (!USER.matcher(user).matches()) {
      throw DvdiException.invalid("container user '" + user + "' is not a valid user name");
    }
    commands.check(List.of("chown", "--", user + ":", path), CallContext.of(Duration.ofSeconds(30), "chown " + key, config.instanceId()),
        "giving the new filesystem of " + key + " to user " + user);
  }

  /** After a failed acquisition: undo what may have been done, so that nothing leaks. */
  private void undo(VolumeProvider p, VolumeKey key, RuntimeException cause) {
    Volume cur = state.view().volume(key);
    if (cur == null || cur.getStatus() != VolumeStatus.ATTACHING) {
      return;
    }
    try {
      releaseProvider(p, key, cur);
      state.mutate((view, ch) -> {
        Volume now = view.volume(key);
        if (now != null && now.getStatus() == VolumeStatus.ATTACHING && view.users(key).isEmpty()) {
          ch.removeVolume(key);
        }
        return null;
      });
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "undoing the failed acquisition of " + key + " (" + cause.getMessage() + ") failed; "
          + "it is retried: " + e.getMessage());
      recordReleaseFailure(key, e);
    }
  }

  private void checkNotInFlight(Volume cur, VolumeKey key) {
    if (cur == null || cur.getStatus() == VolumeStatus.MOUNTED || cur.getOpOwner().isEmpty()
        || cur.getOpOwner().equals(owner) || !cur.getLastError().isEmpty()) {
      return;
    }
    String[] o = cur.getOpOwner().split(":");
    if (o.length == 3 && o[2].equals(bootId)) {
      long pid = Long.parseLong(o[1]);
      if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
        throw DvdiException.busy("volume " + key + " is being " + (cur.getStatus() == VolumeStatus.ATTACHING ? "attached" : "released")
            + " by another dvdi process (" + o[0] + ", pid " + pid + "); try again when it is done");
      }
    }
  }

  private Volume intent(VolumeKey key, VolumeOptions options, Volume cur) {
    Volume.Builder b = cur == null ? Volume.newBuilder().setDriver(key.driver()).setName(key.name()) : cur.toBuilder();
    return b.setStatus(VolumeStatus.ATTACHING).clearOptions().addAllOptions(options(options)).setBootId(bootId)
        .setSinceMs(System.currentTimeMillis()).setOpOwner(owner).clearLastError().clearLastErrorMs().build();
  }

  private static List<Option> options(VolumeOptions o) {
    List<Option> out = new ArrayList<>();
    o.asMap().forEach((k, v) -> out.add(Option.newBuilder().setKey(k).setValue(v).build()));
    return out;
  }

  private static VolumeOptions options(Volume v) {
    Map<String, String> m = new LinkedHashMap<>();
    for (Option o : v.getOptionsList()) {
      m.put(o.getKey(), o.getValue());
    }
    return new VolumeOptions(m, "options of " + v.getDriver() + "/" + v.getName());
  }

  private static VolumeHandle handle(Volume v) {
    return new VolumeHandle(v.getName(), options(v), v.getHostPath(), v.getDevice(), v.getProviderDataMap());
  }

  private static Container container(PrepareRequest req, Map<VolumeKey, String> targets, ContainerStatus status,
      Set<VolumeKey> acquired) {
    Container.Builder c = Container.newBuilder().setId(req.containerId()).setStatus(status)
        .setSinceMs(System.currentTimeMillis());
    for (VolumeRequest v : req.volumes()) {
      c.addUses(VolumeUse.newBuilder().setDriver(v.driver()).setName(v.name()).setTarget(targets.get(v.key()))
          .setReadOnly(v.readOnly()).setAcquired(acquired.contains(v.key())).setContainerPath(v.containerPath()));
    }
    return c.build();
  }

  private static Container withUse(Container c, VolumeKey key, boolean acquired) {
    Container.Builder b = c.toBuilder();
    for (int i = 0; i < b.getUsesCount(); i++) {
      VolumeUse u = b.getUses(i);
      if (u.getDriver().equals(key.driver()) && u.getName().equals(key.name())) {
        b.setUses(i, u.toBuilder().setAcquired(acquired));
      }
    }
    return b.build();
  }

  private static Map<VolumeKey, String> hostPaths(PrepareRequest req, StateView view) {
    Map<VolumeKey, String> out = new HashMap<>();
    for (VolumeRequest v : req.volumes()) {
      out.put(v.key(), view.volume(v.key()).getHostPath());
    }
    return out;
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
   * the container is gone either way.
   */
  public CompletableFuture<CleanupResult> cleanup(String cid) {
    return measured("cleanup", () -> cleanupStart(cid)).whenComplete((r, e) -> {
      if (r != null && !r.failures().isEmpty()) {
        metrics.count("cleanup_left_releases");
      }
    });
  }

  private CompletableFuture<CleanupResult> cleanupStart(String cid) {
    List<VolumeKey> toRelease = state.mutate((view, ch) -> {
      Container c = view.container(cid);
      if (c == null) {
        return null;
      }
      List<VolumeKey> last = new ArrayList<>();
      for (VolumeUse u : c.getUsesList()) {
        VolumeKey k = VolumeKey.of(u);
        Volume v = view.volume(k);
        boolean inFlight = v != null && v.getStatus() != VolumeStatus.MOUNTED;
        if ((u.getAcquired() || inFlight) && view.otherUsers(k, cid) == 0) {
          last.add(k);
        }
      }
      if (last.isEmpty()) {
        ch.removeContainer(cid); // fast path: every volume has other users
      } else {
        // References on volumes that others still use are dropped now, in this same record:
        // a concurrent cleanup of those others must see that it holds the last one.
        Container cleaning = c.toBuilder().setStatus(ContainerStatus.CLEANING).build();
        for (VolumeUse u : c.getUsesList()) {
          if (!last.contains(VolumeKey.of(u))) {
            cleaning = withUse(cleaning, VolumeKey.of(u), false);
          }
        }
        ch.putContainer(cleaning);
      }
      return last;
    });
    if (toRelease == null) {
      return CompletableFuture.completedFuture(new CleanupResult(cid, false, List.of(), List.of()));
    }
    if (toRelease.isEmpty()) {
      return CompletableFuture.completedFuture(new CleanupResult(cid, true, List.of(), List.of()));
    }
    List<CompletableFuture<Boolean>> fs = new ArrayList<>();
    for (VolumeKey k : toRelease) {
      fs.add(lanes.submit(k, () -> releaseUse(cid, k)));
    }
    return CompletableFuture.allOf(fs.toArray(new CompletableFuture<?>[0])).handleAsync((x, e) -> {
      List<VolumeKey> released = new ArrayList<>();
      List<String> failures = new ArrayList<>();
      for (int i = 0; i < fs.size(); i++) {
        try {
          if (fs.get(i).join()) {
            released.add(toRelease.get(i));
          }
        } catch (CompletionException | java.util.concurrent.CancellationException err) {
          failures.add(toRelease.get(i) + ": " + DvdiException.wrap(err, "release"));
        }
      }
      state.mutate((view, ch) -> {
        if (view.container(cid) != null) {
          ch.removeContainer(cid);
        }
        return null;
      });
      if (!failures.isEmpty()) {
        LOG.warning("cleanup of container " + cid + ": could not release " + failures + "; retrying every "
            + config.retryInterval().toSeconds() + "s (see `dvdi mounts`)");
      }
      return new CleanupResult(cid, true, released, failures);
    }, workers);
  }

  /** Drops a container's reference on a volume, on its lane; releases it if that was the last. */
  private boolean releaseUse(String cid, VolumeKey key) {
    Volume toRelease = state.mutate((view, ch) -> {
      Container c = view.container(cid);
      if (c != null) {
        ch.putContainer(withUse(c, key, false));
      }
      Volume cur = view.volume(key);
      if (cur == null || cur.getPinned() || view.otherUsers(key, cid) > 0) {
        return null;
      }
      checkNotInFlight(cur, key);
      Volume rel = cur.toBuilder().setStatus(VolumeStatus.RELEASING).setOpOwner(owner).build();
      ch.putVolume(rel);
      return rel;
    });
    if (toRelease == null) {
      return false;
    }
    release(key, toRelease);
    return true;
  }

  /** Unmounts and detaches a volume whose RELEASING intent is written; forgets it after. */
  private void release(VolumeKey key, Volume v) {
    long start = System.nanoTime();
    VolumeProvider p;
    try {
      p = providers.get(key.driver());
      releaseProvider(p, key, v);
    } catch (RuntimeException e) {
      recordReleaseFailure(key, e);
      metrics.count("release_failed");
      throw e;
    }
    state.mutate((view, ch) -> {
      Volume now = view.volume(key);
      if (now != null && now.getStatus() == VolumeStatus.RELEASING && view.users(key).isEmpty()) {
        ch.removeVolume(key);
      }
      return null;
    });
    metrics.time("release", start);
    LOG.info("released " + key + " (unmounted" + (v.getDevice().isEmpty() ? "" : ", " + v.getDevice() + " detached") + ")");
  }

  private void releaseProvider(VolumeProvider p, VolumeKey key, Volume v) {
    VolumeHandle h = handle(v);
    call(p, Step.UNMOUNT, "unmount " + key, ctx -> {
      p.unmount(h, ctx);
      return null;
    });
    call(p, Step.DETACH, "detach " + key, ctx -> {
      p.detach(h, ctx);
      return null;
    });
  }

  private void recordReleaseFailure(VolumeKey key, RuntimeException e) {
    try {
      state.mutate((view, ch) -> {
        Volume now = view.volume(key);
        if (now != null) {
          ch.putVolume(now.toBuilder().setStatus(VolumeStatus.RELEASING).setLastError(DvdiException.wrap(e, "release").toString())
              .setLastErrorMs(System.currentTimeMillis()).build());
        }
        return null;
      });
    } catch (RuntimeException e2) {
      LOG.log(Level.SEVERE, "cannot record the failed release of " + key, e2);
    }
  }

  // ------------------------------------------------------------------ provider calls

  /**
   * Calls a provider with the step's timeout, enforced from outside: a provider that does
   * not return in time is abandoned (its thread interrupted) and the call fails with TIMEOUT.
   */
  private <T> T call(VolumeProvider p, Step step, String what, Function<CallContext, T> body) {
    Duration timeout = config.timeout(step);
    CallContext ctx = CallContext.of(timeout, what, config.instanceId());
    long start = System.nanoTime();
    String metric = "provider_" + step.name().toLowerCase(java.util.Locale.ROOT);
    Future<T> f;
    try {
      f = calls.submit(() -> body.apply(ctx));
    } catch (RejectedExecutionException e) {
      throw DvdiException.internal(what + ": dvdi is shutting down", e);
    }
    try {
      // The provider's own deadline fires first (and says more); this is the backstop.
      T r = f.get(timeout.toMillis() + 2000, TimeUnit.MILLISECONDS);
      metrics.time(metric, start);
      return r;
    } catch (TimeoutException e) {
      f.cancel(true);
      metrics.count(metric + "_timeouts");
      throw DvdiException.timeout(what + " (driver " + p.driver() + ") did not finish within " + timeout.toMillis()
          + " ms (" + step.key() + "); abandoned");
    } catch (ExecutionException e) {
      metrics.count(metric + "_failures");
      DvdiException d = DvdiException.wrap(e.getCause(), what);
      if (d.getCode() == ErrorCode.INTERNAL && !(e.getCause() instanceof DvdiException)) {
        throw DvdiException.provider(what + " (driver " + p.driver() + "): " + d.getMessage(), e.getCause());
      }
      throw d;
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw DvdiException.timeout(what + ": interrupted");
    }
  }

  // ------------------------------------------------------------------ recover

  /**
   * Recovers after an agent restart. {@code live} are the containers the agent recovered,
   * {@code orphans} those it knows and will clean up itself: their volumes stay. Containers in
   * dvdi's state that are neither are cleaned up now. Volumes are reconciled: interrupted
   * steps finished or undone, volumes nobody uses released, volumes mounted before a reboot
   * treated as not mounted, volumes a live container uses but the kernel lost mounted again,
   * and mounts under the mount root that state does not know adopted (pinned).
   */
  public CompletableFuture<RecoverResult> recover(Set<String> live, Set<String> orphans) {
    return measured("recover", () -> CompletableFuture.supplyAsync(() -> recoverSync(live, orphans), workers))
        .whenComplete((r, e) -> {
          if (r != null) {
            LOG.info("recovered: kept containers " + r.keptContainers() + ", released containers "
                + r.releasedContainers() + ", kept volumes " + r.keptVolumes() + ", released volumes "
                + r.releasedVolumes() + ", adopted " + r.adoptedVolumes()
                + (r.problems().isEmpty() ? "" : ", problems " + r.problems()));
          }
        });
  }

  private RecoverResult recoverSync(Set<String> live, Set<String> orphans) {
    List<String> problems = new ArrayList<>(state.repairs());
    StateView view = state.freshView();
    List<String> kept = new ArrayList<>();
    List<String> gone = new ArrayList<>();
    for (Container c : view.containers().values()) {
      String id = c.getId();
      if (live.contains(id) || orphans.contains(id) || id.startsWith(OPERATOR_PREFIX)) {
        kept.add(id);
      } else {
        gone.add(id);
      }
    }
    List<VolumeKey> released = new ArrayList<>();
    for (String id : gone) {
      CleanupResult r = cleanup(id).join();
      released.addAll(r.released());
      problems.addAll(r.failures());
    }
    List<VolumeKey> keptVolumes = new ArrayList<>();
    KernelMounts kernel = KernelMounts.read();
    List<CompletableFuture<Void>> work = new ArrayList<>();
    view = state.freshView();
    for (Volume v : view.volumes().values()) {
      VolumeKey key = VolumeKey.of(v);
      List<String> users = view.users(key);
      boolean stale = !v.getBootId().equals(bootId);
      if (users.isEmpty() && !v.getPinned()) {
        work.add(lanes.submit(key, () -> {
          releaseOrphan(key, stale);
          return null;
        }).handle((x, e) -> {
          if (e == null) {
            synchronized (released) {
              released.add(key);
            }
          } else {
            synchronized (problems) {
              problems.add("releasing " + key + ": " + DvdiException.wrap(e, "release"));
            }
          }
          return null;
        }));
        continue;
      }
      boolean lost = stale || v.getStatus() != VolumeStatus.MOUNTED
          || (kernelMounts(key) && !kernel.isMountPoint(Path.of(v.getHostPath())));
      if (lost && !v.getPinned()) {
        work.add(lanes.submit(key, () -> {
          remount(key);
          return null;
        }).handle((x, e) -> {
          if (e != null) {
            synchronized (problems) {
              problems.add("mounting " + key + " again for " + users + ": " + DvdiException.wrap(e, "remount"));
            }
          }
          return null;
        }));
      }
      keptVolumes.add(key);
    }
    for (CompletableFuture<Void> w : work) {
      w.join();
    }
    List<VolumeKey> adopted = adopt();
    startReaper();
    return new RecoverResult(kept, gone, keptVolumes, released, adopted, problems);
  }

  private boolean kernelMounts(VolumeKey key) {
    try {
      return providers.get(key.driver()).capabilities().kernelMounts();
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Releases a volume nobody uses (found by recovery or the reaper), on its lane. */
  private void releaseOrphan(VolumeKey key, boolean stale) {
    Volume rel = state.mutate((view, ch) -> {
      Volume cur = view.volume(key);
      if (cur == null || cur.getPinned() || !view.users(key).isEmpty()) {
        return null;
      }
      checkNotInFlight(cur, key);
      Volume r = cur.toBuilder().setStatus(VolumeStatus.RELEASING).setOpOwner(owner).build();
      ch.putVolume(r);
      return r;
    });
    if (rel != null) {
      if (stale) {
        LOG.info("releasing " + key + ": mounted before the last reboot (boot " + rel.getBootId() + ")");
      }
      release(key, rel);
    }
  }

  /** Mounts a volume again that live containers use but the kernel (or a crash) lost. */
  private void remount(VolumeKey key) {
    Volume cur = state.view().volume(key);
    if (cur == null) {
      return;
    }
    VolumeProvider p = providers.get(key.driver());
    state.mutate((view, ch) -> {
      ch.putVolume(intent(key, options(cur), view.volume(key)));
      return null;
    });
    Volume mounted = attachAndMount(p, key, options(cur), null);
    state.mutate((view, ch) -> {
      ch.putVolume(mounted);
      return null;
    });
    LOG.warning("mounted " + key + " again at " + mounted.getHostPath() + ": live containers use it but it was not mounted");
  }

  /** Mounts under {@code <mount root>/<driver>/<name>} that state does not know: kept, pinned. */
  private List<VolumeKey> adopt() {
    List<VolumeKey> adopted = new ArrayList<>();
    Path root = config.mountRoot();
    for (KernelMounts.Mount m : KernelMounts.read().under(root)) {
      Path rel = root.relativize(Path.of(m.mountPoint()));
      if (rel.getNameCount() != 2) {
        continue;
      }
      VolumeKey key = new VolumeKey(rel.getName(0).toString(), rel.getName(1).toString());
      boolean added = state.mutate((view, ch) -> {
        if (view.volume(key) != null) {
          return false;
        }
        ch.putVolume(Volume.newBuilder().setDriver(key.driver()).setName(key.name()).setStatus(VolumeStatus.MOUNTED)
            .setHostPath(m.mountPoint()).setDevice(m.source()).setBootId(bootId).setSinceMs(System.currentTimeMillis())
            .setPinned(true).build());
        return true;
      });
      if (added) {
        adopted.add(key);
        LOG.warning("adopted " + key + " (" + m.source() + " at " + m.mountPoint() + "): mounted but not in dvdi state; "
            + "kept until an operator runs `dvdi release " + key + "`");
      }
    }
    return adopted;
  }

  // ------------------------------------------------------------------ reaper

  private volatile boolean reaperStarted;

  /** Starts retrying failed releases every {@code release.retry-interval}. */
  public synchronized void startReaper() {
    if (reaperStarted) {
      return;
    }
    reaperStarted = true;
    long every = config.retryInterval().toMillis();
    reaper.scheduleWithFixedDelay(this::reap, every, every, TimeUnit.MILLISECONDS);
  }

  /** Retries the release of volumes nobody uses (failed releases). */
  void reap() {
    try {
      StateView view = state.freshView();
      for (Volume v : view.volumes().values()) {
        VolumeKey key = VolumeKey.of(v);
        if (v.getPinned() || !view.users(key).isEmpty() || !lanes.idle(key) || v.getStatus() == VolumeStatus.ATTACHING
            || inPreparation(view, key)) {
          continue;
        }
        lanes.submit(key, () -> {
          releaseOrphan(key, !v.getBootId().equals(bootId));
          return null;
        }).whenComplete((x, e) -> {
          if (e != null) {
            LOG.warning("retrying the release of " + key + " failed again: " + DvdiException.wrap(e, "release").getMessage());
          }
        });
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "release retry pass failed", e);
    }
  }

  private static boolean inPreparation(StateView view, VolumeKey key) {
    for (Container c : view.containers().values()) {
      if (c.getStatus() == ContainerStatus.PREPARING) {
        for (VolumeUse u : c.getUsesList()) {
          if (VolumeKey.of(u).equals(key)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ operators

  /**
   * Mounts a volume for an operator ({@code dvdi mount}): held by the pseudo-container
   * {@code operator:<driver>/<name>} until {@link #operatorUnmount}.
   */
  public CompletableFuture<PrepareResult> operatorMount(VolumeKey key, VolumeOptions options, boolean explicitCreate) {
    VolumeRequest v = new VolumeRequest(key.driver(), key.name(), options.withExplicitCreate(explicitCreate), "", false,
        explicitCreate, "dvdi mount", null);
    return prepare(new PrepareRequest(OPERATOR_PREFIX + key, null, null, null, List.of(v)));
  }

  /** Drops an operator's mount ({@code dvdi unmount}). */
  public CompletableFuture<CleanupResult> operatorUnmount(VolumeKey key) {
    return cleanup(OPERATOR_PREFIX + key);
  }

  /**
   * Releases a volume no container uses ({@code dvdi release}): unmount and detach, also for
   * pinned (adopted) volumes and failed releases. With users it fails with VOLUME_BUSY naming
   * them, unless {@code force}, which drops their references first.
   */
  public CompletableFuture<Void> operatorRelease(VolumeKey key, boolean force) {
    return lanes.submit(key, () -> {
      Volume rel = state.mutate((view, ch) -> {
        Volume cur = view.volume(key);
        if (cur == null) {
          throw DvdiException.notFound("volume " + key + " is not in the mount table");
        }
        List<String> users = view.users(key);
        if (!users.isEmpty() && !force) {
          throw DvdiException.busy("volume " + key + " is used by " + users + "; use --force to release it anyway");
        }
        checkNotInFlight(cur, key);
        for (String u : users) {
          ch.putContainer(withUse(view.container(u), key, false));
        }
        Volume r = cur.toBuilder().setStatus(VolumeStatus.RELEASING).setPinned(false).setOpOwner(owner).build();
        ch.putVolume(r);
        return r;
      });
      release(key, rel);
      return null;
    });
  }

  /** Every known container id, for tests and the CLI. */
  public Set<String> containers() {
    return new HashSet<>(state.view().containers().keySet());
  }

  @Override
  public void close() {
    reaper.shutdownNow();
    workers.shutdown();
    calls.shutdown();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    calls.shutdownNow();
  }

}
