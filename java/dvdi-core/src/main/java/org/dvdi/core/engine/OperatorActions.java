package org.dvdi.core.engine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.dvdi.core.engine.ProviderCalls.Op;
import org.dvdi.core.engine.Results.CleanupResult;
import org.dvdi.core.engine.Results.PrepareResult;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
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
 * mount root that state does not know), after checking that nobody uses it.
 */
public final class OperatorActions {
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
   * Drops an operator's mount. When state does not know it (lost, damaged) but the volume is
   * mounted at its place under the mount root and nobody holds it, it is released.
   */
  CompletableFuture<CleanupResult> unmount(VolumeKey key) {
    String cid = MountTable.OPERATOR_PREFIX + key;
    return m.cleanup(cid).thenCompose(r -> {
      if (r.known() || m.state.freshView().volume(key) != null || KernelTruth.untracked(m.config.mountRoot(), key).isEmpty()) {
        return CompletableFuture.completedFuture(r);
      }
      return release(key, false).thenApply(x -> new CleanupResult(cid, true, List.of(key), List.of()));
    });
  }

  /**
   * Releases a volume no container uses: unmount and detach, also for pinned (adopted)
   * volumes, failed releases, and mounts state does not know. With users it fails with
   * VOLUME_BUSY naming them, unless {@code force}, which drops their references first.
   */
  CompletableFuture<Void> release(VolumeKey key, boolean force) {
    return m.lanes.submit(key, () -> {
      Volume untracked = null;
      if (m.state.freshView().volume(key) == null) {
        Optional<KernelMounts.Mount> mt = KernelTruth.untracked(m.config.mountRoot(), key);
        if (mt.isPresent()) {
          untracked = MountTable.untracked(key, mt.get().mountPoint(), mt.get().source(), m.actor());
        }
      }
      Volume u = untracked;
      Volume rel = m.state.mutate((view, ch) -> MountTable.beginOperatorRelease(view, ch, key, force, u, m.actor()));
      m.steps.release(key, rel, new Op<>());
      return null;
    });
  }

  /** Mounts at {@code <mount root>/<driver>/<name>} that {@code view} does not know. */
  public static List<VolumeKey> untracked(Path mountRoot, StateView view) {
    List<VolumeKey> out = new ArrayList<>();
    for (KernelMounts.Mount mt : KernelMounts.read().under(mountRoot)) {
      Path rel = mountRoot.relativize(Path.of(mt.mountPoint()));
      if (rel.getNameCount() == 2) {
        VolumeKey key = new VolumeKey(rel.getName(0).toString(), rel.getName(1).toString());
        if (view.volume(key) == null && !out.contains(key)) {
          out.add(key);
        }
      }
    }
    return out;
  }

  /**
   * Releases a mount under the mount root while state cannot be written (state from a newer
   * dvdi is refused and left untouched): unmount and detach through its provider, each with
   * its step's timeout. The provider's own checks still apply (a device mounted anywhere else,
   * in any mount namespace, is not detached).
   */
  public static void releaseWithoutState(DvdiConfig config, ProviderRegistry providers, VolumeKey key) {
    Optional<KernelMounts.Mount> mt = KernelTruth.untracked(config.mountRoot(), key);
    if (mt.isEmpty()) {
      throw DvdiException.notFound("nothing is mounted at " + config.mountRoot().resolve(key.driver()).resolve(key.name()));
    }
    VolumeProvider p = providers.get(key.driver());
    VolumeHandle h = new VolumeHandle(key.name(), VolumeOptions.EMPTY, mt.get().mountPoint(), mt.get().source(),
        java.util.Map.of());
    try (ProviderCalls calls = new ProviderCalls(config, new Metrics())) {
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
