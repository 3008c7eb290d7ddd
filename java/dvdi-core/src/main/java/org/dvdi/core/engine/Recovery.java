package org.dvdi.core.engine;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Predicate;
import java.util.logging.Logger;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.config.DvdiConfig.Step;
import org.dvdi.core.engine.Results.CleanupResult;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.host.KernelMounts;

/**
 * Recovery after an agent restart. Containers in dvdi's state that the agent neither
 * recovered ({@code live}) nor knows as orphans are cleaned up, all at once. Volumes are then
 * reconciled with the kernel, each on its lane and in parallel: interrupted steps finished or
 * undone, volumes nobody uses released, volumes mounted before a reboot treated as not
 * mounted, volumes that live containers use but the kernel lost mounted again, and mounts
 * under the mount root that state does not know adopted (pinned until {@code dvdi release}).
 */
final class Recovery {
  private static final Logger LOG = Logger.getLogger(Recovery.class.getName());

  private final VolumeManager m;

  Recovery(VolumeManager m) {
    this.m = m;
  }

  RecoverResult recover(Set<String> live, Set<String> orphans) {
    List<String> problems = Collections.synchronizedList(new ArrayList<>(m.state.repairs()));
    StateView view = m.state.freshView();
    List<String> kept = new ArrayList<>();
    List<String> gone = new ArrayList<>();
    for (Container c : view.containers().values()) {
      String id = c.getId();
      boolean operators = id.startsWith(MountTable.OPERATOR_PREFIX) && !m.leftByEndedProcess(c);
      if (live.contains(id) || orphans.contains(id) || operators) {
        kept.add(id);
      } else {
        gone.add(id);
      }
    }
    // the volumes whose release the cleanups below try: one they could not release (failed, or
    // past its deadline) is the retry loop's from then on, not tried again by the reconciliation
    Set<VolumeKey> cleanedVolumes = new HashSet<>();
    for (String id : gone) {
      for (VolumeUse u : view.containers().get(id).getUsesList()) {
        cleanedVolumes.add(VolumeKey.of(u));
      }
    }
    List<VolumeKey> released = Collections.synchronizedList(new ArrayList<>());
    List<CompletableFuture<CleanupResult>> cleanups = new ArrayList<>();
    for (String id : gone) {
      cleanups.add(m.cleanup(id)); // bounded by its releases' deadlines (VolumeManager.cleanupBound)
    }
    for (int i = 0; i < cleanups.size(); i++) {
      try {
        CleanupResult r = m.scheduler.await(cleanups.get(i));
        released.addAll(r.released());
        problems.addAll(r.failures());
      } catch (CompletionException e) {
        problems.add(DvdiException.wrap(e, "cleanup of container " + gone.get(i)) + "; the retry loop finishes it");
      }
    }
    m.crash.reached("recover.containers-cleaned");
    view = m.state.freshView();
    // the one read of the mount table: for the records that ask it, and for the mounts to adopt
    // (those state does not know now; the volumes reconciled below are all known, so no step of
    // this recovery changes which of those are mounted)
    KernelMounts table = m.host.mountTable();
    Map<VolumeKey, KernelMounts.Mount> untracked = OperatorActions.untracked(table, m.config.mountRoot(), view);
    Map<VolumeKey, List<String>> users = users(view);
    Predicate<Volume> kernel = m.kernelHas(table);
    List<VolumeKey> keptVolumes = new ArrayList<>();
    List<CompletableFuture<Void>> work = new ArrayList<>();
    for (Volume v : view.volumes().values()) {
      VolumeKey key = VolumeKey.of(v);
      List<String> holders = users.getOrDefault(key, List.of());
      if (!m.lanes.idle(key)) {
        // a step of this process is still under way on it (a call past its deadline, of the
        // cleanups above): it is not tried again here; the retry loop finishes or undoes it
        problems.add(key + ": a call past its deadline is still under way on it; the retry loop takes it over");
        keptVolumes.add(key);
        continue;
      }
      if (holders.isEmpty() && !v.getPinned() && cleanedVolumes.contains(key)) {
        problems.add(key + ": its release in the cleanups above did not finish; the retry loop takes it over");
        keptVolumes.add(key);
        continue;
      }
      if (holders.isEmpty() && !v.getPinned()) {
        work.add(within(m.lanes.submit(key, () -> m.steps.releaseOrphan(key)), releaseBudget(m.config),
            "release of " + key).handle((r, e) -> {
          if (e == null) {
            if (r) {
              released.add(key);
            }
          } else {
            problems.add("releasing " + key + ": " + DvdiException.wrap(e, "release"));
          }
          return null;
        }));
        continue;
      }
      boolean lost = !MountTable.mountedThisBoot(v, m.bootId) || !kernel.test(v);
      if (lost && !v.getPinned()) {
        work.add(within(m.lanes.submit(key, () -> {
          m.steps.remount(key);
          return null;
        }), remountBudget(m.config), "mounting " + key + " again").handle((x, e) -> {
          if (e != null) {
            problems.add("mounting " + key + " again for " + holders + ": " + DvdiException.wrap(e, "remount"));
          }
          return null;
        }));
      }
      keptVolumes.add(key);
    }
    for (CompletableFuture<Void> w : work) {
      m.scheduler.await(w);
    }
    m.crash.reached("recover.volumes-reconciled");
    List<VolumeKey> adopted = adopt(m, untracked);
    for (VolumeKey key : adopted) {
      LOG.warning("adopted " + key + ": mounted under " + m.config.mountRoot() + " but not in dvdi state; kept until an "
          + "operator runs `dvdi release " + key + "`");
    }
    if (m.state.damaged()) {
      problems.add("dvdi state was damaged (" + m.state.repairs().size() + " repairs above): volumes were reconciled "
          + "with the kernel's mount table (mounted again for live containers, released when unused, adopted when "
          + "state lost them)");
    }
    m.startReaper();
    RecoverResult r = new RecoverResult(kept, gone, keptVolumes, new ArrayList<>(released), adopted, new ArrayList<>(problems));
    LOG.info("recovered: kept containers " + r.keptContainers().size() + ", released containers " + r.releasedContainers()
        + ", kept volumes " + r.keptVolumes().size() + ", released volumes " + r.releasedVolumes() + ", adopted "
        + r.adoptedVolumes() + (r.problems().isEmpty() ? "" : ", problems " + r.problems()));
    return r;
  }

  /**
   * The longest recovery takes: its cleanups of containers that ended (their releases run in
   * parallel, each within its unmount's and detach's deadlines), then its reconciliation of
   * the volumes (releases, or mounting again: in parallel too, each within its steps'
   * deadlines). A call past its deadline is left under way, and finished or undone by the
   * retry loop; recovery does not wait for it. Each deadline counts with its grace
   * ({@link ProviderCalls#GRACE}).
   */
  static Duration bound(DvdiConfig config) {
    Duration release = releaseBudget(config);
    Duration remount = remountBudget(config);
    return release.plus(release.compareTo(remount) > 0 ? release : remount);
  }

  static Duration releaseBudget(DvdiConfig config) {
    return ProviderCalls.budget(config, Step.UNMOUNT, Step.DETACH);
  }

  static Duration remountBudget(DvdiConfig config) {
    return ProviderCalls.budget(config, Step.ATTACH, Step.MOUNT);
  }

  /** {@code f}, or TIMEOUT after {@code budget} (what {@code f} does goes on). */
  private <T> CompletableFuture<T> within(CompletableFuture<T> f, Duration budget, String what) {
    ProviderCalls.Op<T> op = new ProviderCalls.Op<>();
    f.whenComplete((r, e) -> {
      if (e != null) {
        op.caller.completeExceptionally(e);
      } else {
        op.caller.complete(r);
      }
    });
    m.calls.bound(op, budget, what + " during recovery");
    return op.caller;
  }

  /** Holders of each volume, computed once (a view may hold thousands of containers). */
  static Map<VolumeKey, List<String>> users(StateView view) {
    Map<VolumeKey, List<String>> out = new HashMap<>();
    for (Container c : view.containers().values()) {
      for (VolumeUse u : c.getUsesList()) {
        if (u.getAcquired()) {
          out.computeIfAbsent(VolumeKey.of(u), k -> new ArrayList<>()).add(c.getId());
        }
      }
    }
    return out;
  }

  /**
   * Adopts the mounts {@code found} at {@code <mount root>/<driver>/<name>} that state does not
   * know (state lost or damaged): each is written as a MOUNTED volume, pinned (kept until an
   * operator's {@code dvdi release}). Returns the volumes adopted. Recovery adopts every such
   * mount; an operator's release adopts the one it is about to release, so that its release is
   * the normal one, with its intent written first.
   */
  static List<VolumeKey> adopt(VolumeManager m, Map<VolumeKey, KernelMounts.Mount> found) {
    if (found.isEmpty()) {
      return List.of();
    }
    return m.state.mutate((view, ch) -> {
      List<VolumeKey> out = new ArrayList<>();
      found.forEach((key, mt) -> {
        if (MountTable.adopt(view, ch, key, mt.mountPoint(), mt.source(), m.actor())) {
          out.add(key);
        }
      });
      return out;
    });
  }
}
