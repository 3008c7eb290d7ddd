package org.dvdi.core.engine;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.dvdi.core.config.DvdiConfig.Step;
import org.dvdi.core.engine.MountTable.Acquire;
import org.dvdi.core.engine.ProviderCalls.Op;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;

/**
 * The steps on one volume, each run on the volume's lane: acquire (inspect, create, attach,
 * mount), undo a failed or late acquisition, release (unmount, detach), mount again. Each step
 * writes its intent through the {@link MountTable} before the provider is called and its
 * outcome after; a failed release is kept for the retry loop.
 */
final class VolumeSteps {
  private static final Logger LOG = Logger.getLogger(VolumeSteps.class.getName());

  private static final Pattern USER = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,31}[$]?");

  private final VolumeManager m;

  VolumeSteps(VolumeManager m) {
    this.m = m;
  }

  /** Acquires one volume for a container, on the volume's lane. Returns true for "held already". */
  boolean acquire(PrepareRequest req, VolumeRequest v, Op<Boolean> op) {
    if (op.abandoned() != null) {
      return false; // the caller gave up while this waited for the lane; its cleanup follows
    }
    VolumeKey key = v.key();
    String cid = req.containerId();
    Predicate<Volume> kernel = m.kernelHas();
    Acquire a = m.state.mutate((view, ch) -> MountTable.beginAcquire(view, ch, cid, key, v.options(), kernel, m.actor()));
    if (a == Acquire.HELD) {
      return true;
    }
    m.crash.reached("prepare.intent-written");
    VolumeProvider p = m.providers.get(v.driver());
    try {
      Optional<VolumeInfo> info = m.calls.call(p, Step.INSPECT, "inspect " + key, op, ctx -> p.inspect(v.name(), ctx));
      if (info.isEmpty()) {
        if (v.explicitCreate()) {
          throw DvdiException.notFound("volume " + key + " does not exist, and " + v.source()
              + " asks for explicit creation only (DVDI_VOLUME_EXPLICITCREATE=true)");
        }
        m.calls.call(p, Step.CREATE, "create " + key, op, ctx -> p.create(v.name(), v.options(), ctx));
      }
      Volume mounted = attachAndMount(p, key, v.options(), req.user(), op);
      m.state.mutate((view, ch) -> {
        MountTable.acquired(view, ch, cid, mounted);
        return null;
      });
      m.crash.reached("prepare.outcome-written");
      LOG.info("mounted " + key + " at " + mounted.getHostPath() + " for container " + cid);
      return false;
    } catch (RuntimeException e) {
      undo(p, key, e);
      throw e;
    }
  }

  /** Attach and mount (both idempotent); returns the MOUNTED record. */
  Volume attachAndMount(VolumeProvider p, VolumeKey key, VolumeOptions options, String user, Op<?> op) {
    Attachment att = m.calls.call(p, Step.ATTACH, "attach " + key, op, ctx -> p.attach(key.name(), options, ctx));
    MountedVolume mv = m.calls.call(p, Step.MOUNT, "mount " + key, op, ctx -> p.mount(key.name(), options, att, ctx));
    Map<String, String> data = new TreeMap<>(att.providerData());
    data.putAll(mv.providerData());
    boolean formatted = "true".equals(data.remove(BlockVolumes.DATA_FORMATTED));
    if (formatted && user != null && !user.equals("root")) {
      chown(mv.hostPath(), user, key);
    }
    return MountTable.mounted(key, options, mv.hostPath(), mv.device().isEmpty() ? att.device() : mv.device(), data,
        m.kernel.deviceOrUnknown(mv.hostPath()), m.actor());
  }

  /** A new filesystem's root belongs to the container's user, so that a non-root task can write. */
  private void chown(String path, String user, VolumeKey key) {
    if (!USER.matcher(user).matches()) {
      throw DvdiException.invalid("container user '" + user + "' is not a valid user name");
    }
    m.commands.check(List.of("chown", "--", user + ":", path), CallContext.of(Duration.ofSeconds(30), "chown " + key, m.config.instanceId(), m.scheduler::nanoTime),
        "giving the new filesystem of " + key + " to user " + user);
  }

  /**
   * After a failed (or abandoned, and now ended) acquisition, on the volume's lane: undo what
   * may have been done, so that nothing leaks. A failed undo is kept and retried.
   */
  private void undo(VolumeProvider p, VolumeKey key, RuntimeException cause) {
    Volume cur = m.state.view().volume(key);
    if (cur == null || cur.getStatus() != VolumeStatus.ATTACHING || !m.state.view().users(key).isEmpty()) {
      return;
    }
    try {
      releaseProvider(p, key, cur, new Op<>());
      m.state.mutate((view, ch) -> {
        MountTable.released(view, ch, key);
        return null;
      });
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "undoing the failed acquisition of " + key + " (" + cause.getMessage() + ") failed; "
          + "it is retried: " + e.getMessage());
      recordReleaseFailure(key, e);
    }
  }

  /** Drops a container's reference on a volume, on its lane; releases it if that was the last. */
  boolean releaseUse(String cid, VolumeKey key, Op<?> op) {
    Volume rel = m.state.mutate((view, ch) -> MountTable.beginRelease(view, ch, cid, key, m.actor()));
    if (rel == null) {
      return false;
    }
    release(key, rel, op);
    return true;
  }

  /** Releases a volume nobody uses (found by recovery or the reaper), on its lane. Returns false when it stays. */
  boolean releaseOrphan(VolumeKey key) {
    Volume rel = m.state.mutate((view, ch) -> MountTable.beginRelease(view, ch, null, key, m.actor()));
    if (rel == null) {
      return false;
    }
    if (!rel.getBootId().equals(m.bootId)) {
      LOG.info("releasing " + key + ": mounted before the last reboot (boot " + rel.getBootId() + ")");
    }
    release(key, rel, new Op<>());
    return true;
  }

  /** Unmounts and detaches a volume whose RELEASING intent is written; forgets it after. */
  void release(VolumeKey key, Volume v, Op<?> op) {
    m.crash.reached("release.intent-written");
    long start = m.scheduler.nanoTime();
    try {
      VolumeProvider p = m.providers.get(key.driver());
      releaseProvider(p, key, v, op);
    } catch (RuntimeException e) {
      recordReleaseFailure(key, e);
      throw e;
    }
    m.state.mutate((view, ch) -> {
      MountTable.released(view, ch, key);
      return null;
    });
    m.crash.reached("release.outcome-written");
    m.metrics.time("release", start);
    LOG.info("released " + key + " (unmounted" + (v.getDevice().isEmpty() ? "" : ", " + v.getDevice() + " detached") + ")");
  }

  private void releaseProvider(VolumeProvider p, VolumeKey key, Volume v, Op<?> op) {
    VolumeHandle h = MountTable.handle(v);
    m.calls.call(p, Step.UNMOUNT, "unmount " + key, op, ctx -> {
      p.unmount(h, ctx);
      return null;
    });
    m.calls.call(p, Step.DETACH, "detach " + key, op, ctx -> {
      p.detach(h, ctx);
      return null;
    });
  }

  private void recordReleaseFailure(VolumeKey key, RuntimeException e) {
    m.metrics.count("release_failed");
    try {
      String why = DvdiException.wrap(e, "release").toString();
      m.state.mutate((view, ch) -> {
        MountTable.releaseFailed(view, ch, key, why, m.actor());
        return null;
      });
    } catch (RuntimeException e2) {
      LOG.log(Level.SEVERE, "cannot record the failed release of " + key, e2);
    }
  }

  /** Mounts a volume again that live containers use but the kernel (or a crash, or a reboot) lost. */
  void remount(VolumeKey key) {
    Volume cur = m.state.view().volume(key);
    if (cur == null) {
      return;
    }
    VolumeProvider p = m.providers.get(key.driver());
    if (!m.state.mutate((view, ch) -> MountTable.beginRemount(view, ch, key, m.actor()))) {
      releaseOrphan(key); // its holders went meanwhile
      return;
    }
    Volume mounted = attachAndMount(p, key, MountTable.options(cur), null, new Op<>());
    if (!m.state.mutate((view, ch) -> MountTable.remounted(view, ch, mounted))) {
      releaseOrphan(key);
      return;
    }
    LOG.warning("mounted " + key + " again at " + mounted.getHostPath() + ": live containers use it but it was not mounted");
  }
}
