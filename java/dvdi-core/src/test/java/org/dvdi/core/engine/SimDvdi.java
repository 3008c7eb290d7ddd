package org.dvdi.core.engine;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.dvdi.core.engine.MountTable.Acquire;
import org.dvdi.core.engine.MountTable.Actor;
import org.dvdi.core.engine.ProviderCalls.Op;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.state.SimStateStore;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeOptions;

/**
 * One simulated dvdi process (the agent's module, or a CLI command) for
 * {@link MountTableModelTest}: the {@link MountTable} transitions strung together with
 * provider calls exactly in the order {@link VolumeManager}, {@link Recovery}, {@link Reaper}
 * and {@link OperatorActions} do, on a {@link SimScheduler} instead of threads and a
 * {@link SimHost} instead of a provider and the kernel. Keep it in step with the engine: each
 * method names the engine method it mirrors.
 */
final class SimDvdi {
  /** The world a process lives in: the shared state, the host, the clock, who is alive. */
  interface World {
    SimStateStore state();

    SimHost host();

    SimScheduler scheduler();

    long nowMs();

    String bootId();

    boolean alive(String owner);

    /** An operator's release has written its intent (the model learns of it at that moment). */
    void operatorReleaseBegun(VolumeKey key, boolean force);
  }

  static final String DRIVER = "sim";
  static final Duration RETRY = Duration.ofSeconds(1);
  static final Duration RETRY_MAX = Duration.ofSeconds(60);

  final String owner;
  private final World w;
  /** VolumeManager.preparing. */
  private final Set<String> preparing = new HashSet<>();
  /** VolumeManager.cleanups. */
  private final Map<String, CompletableFuture<Boolean>> cleanups = new HashMap<>();
  private boolean reaperStarted;
  private boolean dead;

  SimDvdi(World w, String owner) {
    this.w = w;
    this.owner = owner;
  }

  /** The same process in a copy of its world (only when nothing of it is under way). */
  SimDvdi copyInto(World other) {
    if (!preparing.isEmpty() || !cleanups.isEmpty()) {
      throw new IllegalStateException(owner + " is busy: " + preparing + " " + cleanups.keySet());
    }
    SimDvdi p = new SimDvdi(other, owner);
    p.reaperStarted = reaperStarted;
    p.dead = dead;
    return p;
  }

  boolean alive() {
    return !dead;
  }

  void kill() {
    dead = true;
  }

  boolean reaperStarted() {
    return reaperStarted;
  }

  Actor actor() {
    return new Actor(owner, w.bootId(), w.nowMs(), w::alive);
  }

  Predicate<Volume> kernelHas() {
    return v -> w.host().mounted(v);
  }

  private <T> T mutate(org.dvdi.core.state.Mutation<T> m) {
    return w.state().mutate(m);
  }

  static PrepareRequest request(String cid, List<VolumeKey> vols) {
    List<VolumeRequest> rs = new ArrayList<>();
    for (VolumeKey k : vols) {
      rs.add(new VolumeRequest(k.driver(), k.name(), VolumeOptions.EMPTY, "data-" + k.name(), false, false,
          "DVDI_VOLUME_NAME", ""));
    }
    return new PrepareRequest(cid, null, null, null, rs);
  }

  // ------------------------------------------------------------------ provider calls

  /**
   * ProviderCalls.call: the step's effect, with the planned outcome. A timeout abandons the
   * operation (its caller learns TIMEOUT now), lets other tasks run while the late call goes
   * on, then lands the effect or not and throws the TIMEOUT, as the engine's lane does.
   */
  private <T> T call(Op<?> op, String what, java.util.function.Supplier<T> effect) {
    if (op.abandoned() != null) {
      throw op.abandoned();
    }
    SimHost.Outcome o = w.host().next();
    w.host().log.add("    " + owner + " " + what + ": " + o);
    switch (o) {
      case OK:
        T r = effect.get();
        if (op.abandoned() != null) {
          throw op.abandoned();
        }
        return r;
      case FAIL:
        throw DvdiException.provider("sim: " + what + " failed");
      case TIMEOUT_DONE:
      case TIMEOUT_LOST: {
        DvdiException late = DvdiException.timeout(what + " did not finish in time; abandoned");
        op.abandon(late);
        w.scheduler().yieldOthers(this);
        if (o == SimHost.Outcome.TIMEOUT_DONE) {
          try {
            effect.get();
          } catch (RuntimeException e) {
            // the late call failed after all: still a TIMEOUT for the engine
          }
        }
        throw late;
      }
      case CRASH_DONE:
        try {
          effect.get();
        } catch (RuntimeException e) {
          // the call failed; the process dies anyway
        }
        throw new SimHost.Crash(this, what);
      case CRASH_LOST:
      default:
        throw new SimHost.Crash(this, what);
    }
  }

  // ------------------------------------------------------------------ prepare

  /** VolumeManager.prepare: completes with the host paths handed to the container. */
  CompletableFuture<Map<VolumeKey, String>> prepare(String cid, List<VolumeKey> vols) {
    PrepareRequest req = request(cid, vols);
    Map<VolumeKey, String> targets = new LinkedHashMap<>();
    for (VolumeRequest v : req.volumes()) {
      targets.put(v.key(), "/sandbox/" + cid + "/data-" + v.name());
    }
    if (!preparing.add(cid)) {
      return CompletableFuture.failedFuture(DvdiException.invalid("container " + cid + " is being prepared already"));
    }
    CompletableFuture<Map<VolumeKey, String>> out;
    try {
      out = prepareVolumes(req, targets);
    } catch (RuntimeException e) {
      out = CompletableFuture.failedFuture(e);
    }
    return out.whenComplete((r, e) -> preparing.remove(cid));
  }

  private CompletableFuture<Map<VolumeKey, String>> prepareVolumes(PrepareRequest req, Map<VolumeKey, String> targets) {
    String cid = req.containerId();
    Predicate<Volume> kernel = kernelHas();
    Map<VolumeKey, String> fast = mutate((view, ch) -> MountTable.beginPrepare(view, ch, req, targets, kernel, actor()));
    if (fast != null) {
      return CompletableFuture.completedFuture(fast);
    }
    List<Op<Boolean>> ops = new ArrayList<>();
    for (VolumeRequest v : req.volumes()) {
      Op<Boolean> op = new Op<>();
      ops.add(op);
      w.scheduler().lane(this, v.key(), () -> acquire(req, v, op)).whenComplete((r, e) -> {
        if (e != null) {
          op.caller.completeExceptionally(e);
        } else {
          op.caller.complete(r);
        }
      });
    }
    CompletableFuture<Map<VolumeKey, String>> out = new CompletableFuture<>();
    CompletableFuture<?>[] callers = ops.stream().map(o -> o.caller).toArray(CompletableFuture<?>[]::new);
    CompletableFuture.allOf(callers).whenComplete((x, err) -> w.scheduler().control(this, () -> {
      Throwable failed = err;
      if (failed == null) {
        try {
          out.complete(mutate((view, ch) -> MountTable.prepared(view, ch, cid, kernelHas())));
          return;
        } catch (RuntimeException e) {
          failed = e;
        }
      }
      DvdiException first = DvdiException.wrap(failed, "prepare");
      CompletableFuture<Boolean> rollback = cleanup(cid);
      if (ops.stream().anyMatch(o -> o.abandoned() != null)) {
        out.completeExceptionally(first);
      } else {
        rollback.whenComplete((r, e2) -> out.completeExceptionally(first));
      }
    }));
    return out;
  }

  /** VolumeSteps.acquire. */
  private boolean acquire(PrepareRequest req, VolumeRequest v, Op<Boolean> op) {
    if (op.abandoned() != null) {
      return false;
    }
    VolumeKey key = v.key();
    String cid = req.containerId();
    Predicate<Volume> kernel = kernelHas();
    Acquire a = mutate((view, ch) -> MountTable.beginAcquire(view, ch, cid, key, v.options(), kernel, actor()));
    if (a == Acquire.HELD) {
      return true;
    }
    try {
      boolean exists = call(op, "inspect " + key, () -> w.host().inspect(key));
      if (!exists) {
        call(op, "create " + key, () -> {
          w.host().create(key);
          return null;
        });
      }
      Volume mounted = attachAndMount(key, v.options(), op);
      mutate((view, ch) -> {
        MountTable.acquired(view, ch, cid, mounted);
        return null;
      });
      return false;
    } catch (RuntimeException e) {
      undo(key);
      throw e;
    }
  }

  /** VolumeSteps.attachAndMount. */
  private Volume attachAndMount(VolumeKey key, VolumeOptions options, Op<?> op) {
    String device = call(op, "attach " + key, () -> w.host().attach(key));
    String hostPath = call(op, "mount " + key, () -> w.host().mount(key));
    return MountTable.mounted(key, options, hostPath, device, Map.of(), 0, actor());
  }

  /** VolumeSteps.undo. */
  private void undo(VolumeKey key) {
    Volume cur = w.state().view().volume(key);
    if (cur == null || cur.getStatus() != VolumeStatus.ATTACHING || !w.state().view().users(key).isEmpty()) {
      return;
    }
    try {
      releaseProvider(key, cur, new Op<>());
      mutate((view, ch) -> {
        MountTable.released(view, ch, key);
        return null;
      });
    } catch (RuntimeException e) {
      recordReleaseFailure(key, e);
    }
  }

  // ------------------------------------------------------------------ cleanup

  /** VolumeManager.cleanup: completes with "the container was known". */
  CompletableFuture<Boolean> cleanup(String cid) {
    CompletableFuture<Boolean> running = cleanups.get(cid);
    if (running != null) {
      return running;
    }
    CompletableFuture<Boolean> mine = new CompletableFuture<>();
    cleanups.put(cid, mine);
    cleanupStart(cid).whenComplete((r, e) -> {
      cleanups.remove(cid, mine);
      if (e != null) {
        mine.completeExceptionally(e);
      } else {
        mine.complete(r);
      }
    });
    return mine;
  }

  private CompletableFuture<Boolean> cleanupStart(String cid) {
    List<VolumeKey> toRelease;
    try {
      toRelease = mutate((view, ch) -> MountTable.beginCleanup(view, ch, cid, actor()));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (toRelease == null) {
      return CompletableFuture.completedFuture(false);
    }
    if (toRelease.isEmpty()) {
      return CompletableFuture.completedFuture(true);
    }
    List<Op<Boolean>> ops = new ArrayList<>();
    for (VolumeKey k : toRelease) {
      Op<Boolean> op = new Op<>();
      ops.add(op);
      w.scheduler().lane(this, k, () -> releaseUse(cid, k, op)).whenComplete((r, e) -> {
        if (e != null) {
          op.caller.completeExceptionally(e);
        } else {
          op.caller.complete(r);
        }
      });
    }
    CompletableFuture<Boolean> out = new CompletableFuture<>();
    CompletableFuture<?>[] callers = ops.stream().map(o -> o.caller).toArray(CompletableFuture<?>[]::new);
    CompletableFuture.allOf(callers).whenComplete((x, e) -> w.scheduler().control(this, () -> {
      mutate((view, ch) -> {
        MountTable.forgetContainer(view, ch, cid);
        return null;
      });
      out.complete(true);
    }));
    return out;
  }

  /** VolumeSteps.releaseUse. */
  private boolean releaseUse(String cid, VolumeKey key, Op<?> op) {
    Volume rel = mutate((view, ch) -> MountTable.beginRelease(view, ch, cid, key, actor()));
    if (rel == null) {
      return false;
    }
    release(key, rel, op);
    return true;
  }

  /** VolumeSteps.releaseOrphan. */
  boolean releaseOrphan(VolumeKey key) {
    Volume rel = mutate((view, ch) -> MountTable.beginRelease(view, ch, null, key, actor()));
    if (rel == null) {
      return false;
    }
    release(key, rel, new Op<>());
    return true;
  }

  /** VolumeSteps.release. */
  private void release(VolumeKey key, Volume v, Op<?> op) {
    try {
      releaseProvider(key, v, op);
    } catch (RuntimeException e) {
      recordReleaseFailure(key, e);
      throw e;
    }
    mutate((view, ch) -> {
      MountTable.released(view, ch, key);
      return null;
    });
  }

  /** VolumeSteps.releaseProvider. */
  private void releaseProvider(VolumeKey key, Volume v, Op<?> op) {
    String hostPath = v.getHostPath();
    call(op, "unmount " + key, () -> {
      w.host().unmount(key, hostPath);
      return null;
    });
    call(op, "detach " + key, () -> {
      w.host().detach(key);
      return null;
    });
  }

  /** VolumeSteps.recordReleaseFailure. */
  private void recordReleaseFailure(VolumeKey key, RuntimeException e) {
    String why = DvdiException.wrap(e, "release").toString();
    mutate((view, ch) -> {
      MountTable.releaseFailed(view, ch, key, why, actor());
      return null;
    });
  }

  /** VolumeSteps.remount. */
  private void remount(VolumeKey key) {
    Volume cur = w.state().view().volume(key);
    if (cur == null) {
      return;
    }
    if (!mutate((view, ch) -> MountTable.beginRemount(view, ch, key, actor()))) {
      releaseOrphan(key);
      return;
    }
    Volume mounted = attachAndMount(key, MountTable.options(cur), new Op<>());
    if (!mutate((view, ch) -> MountTable.remounted(view, ch, mounted))) {
      releaseOrphan(key);
    }
  }

  // ------------------------------------------------------------------ recovery

  /**
   * Recovery.recover: containers neither live nor orphans are cleaned up (all at once);
   * then each volume is reconciled on its lane; then mounts state does not know are
   * adopted; then the reaper starts. Completes when all that is done.
   */
  CompletableFuture<Void> recover(Set<String> live, Set<String> orphans) {
    CompletableFuture<Void> out = new CompletableFuture<>();
    w.scheduler().control(this, () -> {
      StateView view = w.state().view();
      List<CompletableFuture<Boolean>> cl = new ArrayList<>();
      for (Container c : view.containers().values()) {
        String id = c.getId();
        boolean operators = id.startsWith(MountTable.OPERATOR_PREFIX)
            && !MountTable.leftByEndedProcess(c, preparing.contains(id), w::alive);
        if (!(live.contains(id) || orphans.contains(id) || operators)) {
          cl.add(cleanup(id));
        }
      }
      CompletableFuture.allOf(cl.toArray(CompletableFuture<?>[]::new))
          .whenComplete((x, e) -> w.scheduler().control(this, () -> reconcile(out)));
    });
    return out;
  }

  private void reconcile(CompletableFuture<Void> out) {
    StateView view = w.state().view();
    Map<VolumeKey, List<String>> users = Recovery.users(view);
    Predicate<Volume> kernel = kernelHas();
    List<CompletableFuture<?>> work = new ArrayList<>();
    for (Volume v : view.volumes().values()) {
      VolumeKey key = VolumeKey.of(v);
      List<String> holders = users.getOrDefault(key, List.of());
      if (holders.isEmpty() && !v.getPinned()) {
        work.add(w.scheduler().lane(this, key, () -> releaseOrphan(key)).handle((r, e) -> null));
        continue;
      }
      boolean lost = !MountTable.mountedThisBoot(v, w.bootId()) || !kernel.test(v);
      if (lost && !v.getPinned()) {
        work.add(w.scheduler().lane(this, key, () -> {
          remount(key);
          return null;
        }).handle((r, e) -> null));
      }
    }
    CompletableFuture.allOf(work.toArray(CompletableFuture<?>[]::new)).whenComplete((x, e) -> w.scheduler().control(this, () -> {
      adopt(key -> true);
      reaperStarted = true;
      out.complete(null);
    }));
  }

  /** Recovery.adopt, on the simulated kernel's mounts under the mount root. */
  private void adopt(Predicate<VolumeKey> which) {
    Map<VolumeKey, String[]> found = new LinkedHashMap<>();
    w.host().mounts.forEach((path, dev) -> {
      if (path.startsWith(SimHost.MOUNT_ROOT + "/")) {
        String[] p = path.substring(SimHost.MOUNT_ROOT.length() + 1).split("/");
        if (p.length == 2 && which.test(new VolumeKey(p[0], p[1]))) {
          found.putIfAbsent(new VolumeKey(p[0], p[1]), new String[] {path, dev});
        }
      }
    });
    if (found.isEmpty()) {
      return;
    }
    mutate((view, ch) -> {
      found.forEach((key, m) -> MountTable.adopt(view, ch, key, m[0], m[1], actor()));
      return null;
    });
  }

  // ------------------------------------------------------------------ reaper

  /** Reaper.pass; returns how many steps it started. */
  int reaperPass() {
    StateView view = w.state().view();
    long now = w.nowMs();
    int started = 0;
    for (Container c : view.containers().values()) {
      if (MountTable.leftByEndedProcess(c, preparing.contains(c.getId()), w::alive)) {
        cleanup(c.getId());
        started++;
      }
    }
    Map<VolumeKey, List<String>> users = Recovery.users(view);
    for (Volume v : view.volumes().values()) {
      VolumeKey key = VolumeKey.of(v);
      if (v.getPinned() || users.containsKey(key) || !w.scheduler().idle(this, key) || MountTable.inPreparation(view, key, preparing::contains, w::alive)) {
        continue;
      }
      if (v.getStatus() != VolumeStatus.MOUNTED && MountTable.actorOwnsLiveStep(v, actor())) {
        continue;
      }
      if (now < MountTable.nextRetryMs(v, RETRY, RETRY_MAX)) {
        continue;
      }
      w.scheduler().lane(this, key, () -> releaseOrphan(key));
      started++;
    }
    return started;
  }



  // ------------------------------------------------------------------ operators (a CLI process)

  /** OperatorActions.mount. */
  CompletableFuture<Map<VolumeKey, String>> operatorMount(VolumeKey key) {
    return prepare(MountTable.OPERATOR_PREFIX + key, List.of(key));
  }

  /** OperatorActions.unmount. */
  CompletableFuture<Boolean> operatorUnmount(VolumeKey key) {
    String cid = MountTable.OPERATOR_PREFIX + key;
    return cleanup(cid).thenCompose(known -> {
      StateView view = w.state().view();
      Volume v = view.volume(key);
      boolean lost = v == null ? w.host().mounted(key) : v.getPinned();
      if (!lost || !view.users(key).isEmpty()) {
        return CompletableFuture.completedFuture(known);
      }
      return operatorRelease(key, false).thenApply(x -> true);
    });
  }

  /** OperatorActions.release. */
  CompletableFuture<Void> operatorRelease(VolumeKey key, boolean force) {
    return w.scheduler().lane(this, key, () -> {
      if (w.state().view().volume(key) == null) {
        adopt(key::equals);
      }
      Volume rel = mutate((view, ch) -> MountTable.beginOperatorRelease(view, ch, key, force, actor()));
      w.operatorReleaseBegun(key, force);
      release(key, rel, new Op<>());
      return null;
    });
  }
}
