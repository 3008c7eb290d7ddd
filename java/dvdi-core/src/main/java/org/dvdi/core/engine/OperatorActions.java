package org.dvdi.core.engine;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;
import org.dvdi.core.engine.ProviderCalls.Op;
import org.dvdi.core.engine.Results.CleanupResult;
import org.dvdi.core.engine.Results.PrepareResult;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.seams.Host;
import org.dvdi.core.seams.Scheduler;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.config.DvdiConfig.Step;
import org.dvdi.core.state.StateView;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.KernelMounts;

/**
 * What an operator does with the CLI ({@code dvdi mount}, {@code unmount}, {@code release}),
 * on the engine's own steps and lanes: an operator's mount is the pseudo-container
 * {@code operator:<driver>/<name>}; a release also frees what state lost (a mount under the
 * mount root that state does not know): adopted first, as recovery adopts it, then released
 * by the same step and checks as any volume.
 */
public final class OperatorActions {
  private static final Logger LOG = Logger.getLogger(OperatorActions.class.getName());

  private final VolumeManager m;

  OperatorActions(VolumeManager m) {
    this.m = m;
  }

  CompletableFuture<PrepareResult> mount(VolumeKey key, VolumeOptions options, boolean explicitCreate) {
    VolumeRequest v = new VolumeRequest(key.driver(), key.name(), options.withExplicitCreate(explicitCreate), "", false,
        explicitCreate, "dvdi mount", null);
    return m.prepare(new PrepareRequest(MountTable.OPERATOR_PREFIX + key, null, null, null, List.of(v)));
  }

  /**
   * Drops an operator's mount. A volume that state lost (its records were lost: damage, an
   * operator's rm) but that is mounted at its place under the mount root, or that was adopted
   * (pinned: kept only for an operator), is then released as {@link #release} releases it,
   * unless a container still holds it.
   */
  CompletableFuture<CleanupResult> unmount(VolumeKey key) {
    String cid = MountTable.OPERATOR_PREFIX + key;
    return m.cleanup(cid).thenCompose(r -> {
      StateView view = m.state.freshView();
      Volume v = view.volume(key);
      boolean lost = v == null ? m.kernel.volumeMount(m.config.mountRoot(), key).isPresent() : v.getPinned();
      if (!lost || !view.users(key).isEmpty()) {
        return CompletableFuture.completedFuture(r);
      }
      return release(key, false).thenApply(x -> new CleanupResult(cid, true, List.of(key), r.failures()));
    });
  }

  /**
   * Releases a volume no container uses: unmount and detach, also for pinned (adopted)
   * volumes and failed releases. A mount at the volume's place under the mount root that state
   * does not know is first adopted into state as recovery adopts it, then released by the same
   * step. With users it fails with VOLUME_BUSY naming them, unless {@code force}, which drops
   * their references first; a mount still in use fails the unmount with VOLUME_BUSY, and the
   * release is kept for the retry loop, as every failed release.
   */
  CompletableFuture<Void> release(VolumeKey key, boolean force) {
    return m.lanes.submit(key, () -> {
      Map<VolumeKey, KernelMounts.Mount> lost = m.state.freshView().volume(key) != null ? Map.of()
          : m.kernel.volumeMount(m.config.mountRoot(), key).map(mt -> Map.of(key, mt)).orElse(Map.of());
      if (!Recovery.adopt(m, lost).isEmpty()) {
        LOG.warning("adopted " + key + ": mounted under " + m.config.mountRoot() + " but not in dvdi state; released now "
            + "at an operator's request");
      }
      Volume rel = m.state.mutate((view, ch) -> MountTable.beginOperatorRelease(view, ch, key, force, m.actor()));
      m.steps.release(key, rel, new Op<>());
      return null;
    });
  }

  /**
   * The mounts at {@code <mount root>/<driver>/<name>} on {@code host} that {@code view} does
   * not know, by volume: what recovery would adopt, and what {@link #release} adopts and releases.
   */
  public static Map<VolumeKey, KernelMounts.Mount> untracked(Host host, Path mountRoot, StateView view) {
    return untracked(host.mountTable(), mountRoot, view);
  }

  /** As {@link #untracked(Host, Path, StateView)}, in the mount table {@code table}. */
  static Map<VolumeKey, KernelMounts.Mount> untracked(KernelMounts table, Path mountRoot, StateView view) {
    Map<VolumeKey, KernelMounts.Mount> out = KernelTruth.volumeMounts(table, mountRoot);
    out.keySet().removeIf(key -> view.volume(key) != null);
    return out;
  }

  /**
   * Releases a mount under the mount root while state cannot be written (state from a newer
   * dvdi is refused and left untouched): unmount and detach through its provider, each with
   * its step's timeout. The provider's own checks still apply (a device mounted anywhere else,
   * in any mount namespace, is not detached).
   */
  public static void releaseWithoutState(Host host, DvdiConfig config, ProviderRegistry providers, VolumeKey key) {
    KernelMounts.Mount mt = new KernelTruth(host).volumeMount(config.mountRoot(), key).orElse(null);
    if (mt == null) {
      throw DvdiException.notFound("nothing is mounted at " + config.mountRoot().resolve(key.driver()).resolve(key.name()));
    }
    VolumeProvider p = providers.get(key.driver());
    VolumeHandle h = new VolumeHandle(key.name(), VolumeOptions.EMPTY, mt.mountPoint(), mt.source(), Map.of());
    try (Scheduler scheduler = Scheduler.real()) {
      ProviderCalls calls = new ProviderCalls(config, new Metrics(scheduler::nanoTime), scheduler, CrashPoints.fromProperties());
      Op<Void> op = new Op<>();
      calls.call(p, Step.UNMOUNT, "unmount " + key, op, ctx -> {
        p.unmount(h, ctx);
        return null;
      });
      calls.call(p, Step.DETACH, "detach " + key, op, ctx -> {
        p.detach(h, ctx);
        return null;
      });
    }
  }
}
