package org.dvdi.core.engine;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.RequestPolicy;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.state.Changes;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Option;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;

/**
 * The mount table as a state machine: every transition of a volume (absent, ATTACHING,
 * MOUNTED, RELEASING) and of a container (PREPARING, READY, CLEANING, gone) is one method
 * here, deciding on the current {@link StateView} and writing what changes to
 * {@link Changes}. No I/O: what the kernel says comes in as a predicate, who acts and when as
 * an {@link Actor}. The engine runs these inside {@code StateStore.mutate}; tests drive them
 * directly.
 */
public final class MountTable {
  /** Container ids of operators' mounts ({@code dvdi mount}); never Mesos's, never released by recovery. */
  public static final String OPERATOR_PREFIX = "operator:";

  private MountTable() {}

  /**
   * Who acts, and when: the intent owner written into records ({@code <writer>:<pid>:<boot id>}),
   * this boot, the time, and whether another owner's process is alive.
   */
  public record Actor(String owner, String bootId, long nowMs, Predicate<String> ownerAlive) {
    /** True when {@code otherOwner} is someone else's intent whose process still runs. */
    boolean othersStep(String otherOwner) {
      return !otherOwner.isEmpty() && !otherOwner.equals(owner) && ownerAlive.test(otherOwner);
    }
  }

  /** Mounted during this boot, as far as state knows (the kernel is asked separately). */
  public static boolean mountedThisBoot(Volume v, String bootId) {
    return v != null && v.getStatus() == VolumeStatus.MOUNTED && v.getBootId().equals(bootId);
  }

  // ------------------------------------------------------------------ prepare

  /**
   * Starts a container's prepare. When every volume is mounted this boot and {@code kernelHas}
   * confirms it, the container is READY with every reference taken (the fast path) and the
   * host paths are returned; otherwise it is PREPARING with none taken, and null is returned.
   */
  public static Map<VolumeKey, String> beginPrepare(StateView view, Changes ch, PrepareRequest req,
      Map<VolumeKey, String> targets, Predicate<Volume> kernelHas, Actor a) {
    String cid = req.containerId();
    Container known = view.container(cid);
    if (known != null) {
      throw DvdiException.invalid("container " + cid + " is already prepared (dvdi state has it since "
          + java.time.Instant.ofEpochMilli(known.getSinceMs()) + ")");
    }
    Map<VolumeKey, String> hostPaths = new LinkedHashMap<>();
    for (VolumeRequest v : req.volumes()) {
      Volume cur = view.volume(v.key());
      if (!mountedThisBoot(cur, a.bootId()) || !kernelHas.test(cur)) {
        ch.putContainer(container(req, targets, ContainerStatus.PREPARING, false, a));
        return null;
      }
      hostPaths.put(v.key(), cur.getHostPath());
    }
    ch.putContainer(container(req, targets, ContainerStatus.READY, true, a));
    return hostPaths;
  }

  /** What {@link #beginAcquire} decided. */
  public enum Acquire {
    /** Mounted already: the container's reference is taken. */
    HELD,
    /** The intent (ATTACHING) is written: call the provider. */
    CALL_PROVIDER
  }

  /**
   * One volume of a PREPARING container, on the volume's lane: take the reference if the
   * volume is mounted (and the kernel agrees), else write the intent to attach and mount it.
   */
  public static Acquire beginAcquire(StateView view, Changes ch, String cid, VolumeKey key, VolumeOptions options,
      Predicate<Volume> kernelHas, Actor a) {
    Volume cur = view.volume(key);
    if (mountedThisBoot(cur, a.bootId()) && kernelHas.test(cur)) {
      ch.putContainer(withUse(view.container(cid), key, true));
      return Acquire.HELD;
    }
    checkNotInFlight(cur, key, a);
    ch.putVolume(attaching(key, options, cur, a));
    return Acquire.CALL_PROVIDER;
  }

  /** The provider mounted it: record the outcome and the container's reference. */
  public static void acquired(StateView view, Changes ch, String cid, Volume mounted) {
    ch.putVolume(mounted);
    Container c = view.container(cid);
    if (c != null) {
      ch.putContainer(withUse(c, VolumeKey.of(mounted), true));
    }
  }

  /**
   * Every volume of a PREPARING container is held: it is READY; returns the host paths to bind.
   * Fails with VOLUME_BUSY when the container no longer holds one of them, or one is no longer
   * mounted (an operator's {@code release --force} while it was being prepared): then the
   * prepare is rolled back, never handed a path that is not its volume. The kernel is asked
   * again here, right before the paths are handed out: a volume found mounted early in a
   * multi-volume prepare may have been lost while another attached for minutes.
   */
  public static Map<VolumeKey, String> prepared(StateView view, Changes ch, String cid, Predicate<Volume> kernelHas) {
    Container c = view.container(cid);
    if (c == null) {
      throw DvdiException.busy("container " + cid + " was cleaned up while it was being prepared");
    }
    Map<VolumeKey, String> hostPaths = new TreeMap<>();
    for (VolumeUse u : c.getUsesList()) {
      VolumeKey k = VolumeKey.of(u);
      Volume v = view.volume(k);
      if (!u.getAcquired() || v == null || v.getStatus() != VolumeStatus.MOUNTED) {
        throw DvdiException.busy("volume " + k + " was released while container " + cid + " was being prepared "
            + "(an operator's release --force?); the prepare is rolled back");
      }
      if (!kernelHas.test(v)) {
        throw DvdiException.provider("volume " + k + " is not mounted at " + v.getHostPath() + " any more (the kernel "
            + "lost it while container " + cid + " was being prepared); the prepare is rolled back, and the next one "
            + "mounts it again");
      }
      hostPaths.put(k, v.getHostPath());
    }
    ch.putContainer(c.toBuilder().setStatus(ContainerStatus.READY).build());
    return hostPaths;
  }

  /**
   * A volume that live users hold but that is not mounted (the kernel lost it, or a reboot):
   * the intent to mount it again, keeping its options. Returns false (nothing written) when
   * nobody holds it any more: then it is released instead.
   */
  public static boolean beginRemount(StateView view, Changes ch, VolumeKey key, Actor a) {
    Volume cur = view.volume(key);
    if (cur == null || view.users(key).isEmpty()) {
      return false;
    }
    checkNotInFlight(cur, key, a);
    ch.putVolume(attaching(key, options(cur), cur, a));
    return true;
  }

  /**
   * Mounted again: the outcome. Returns whether someone still holds it (its holders may have
   * gone meanwhile, in another dvdi process): if not, it is released next.
   */
  public static boolean remounted(StateView view, Changes ch, Volume mounted) {
    VolumeKey key = VolumeKey.of(mounted);
    if (view.volume(key) != null) {
      ch.putVolume(mounted);
    }
    return !view.users(key).isEmpty();
  }

  /**
   * A container left PREPARING or CLEANING by a dvdi process that ended (an operator's
   * {@code dvdi mount} or {@code unmount} killed midway), which recovery and the retry loop
   * clean up. {@code preparingHere}: this process is preparing it.
   */
  public static boolean leftByEndedProcess(Container c, boolean preparingHere, Predicate<String> ownerAlive) {
    return c.getStatus() != ContainerStatus.READY && !c.getOpOwner().isEmpty() && !preparingHere
        && !ownerAlive.test(c.getOpOwner());
  }

  /**
   * A container being prepared names the volume (its acquisition is about to start): one this
   * process prepares ({@code preparingHere}), or one of another dvdi process that still runs.
   */
  public static boolean inPreparation(StateView view, VolumeKey key, Predicate<String> preparingHere,
      Predicate<String> ownerAlive) {
    for (Container c : view.containers().values()) {
      if (c.getStatus() == ContainerStatus.PREPARING && (preparingHere.test(c.getId()) || ownerAlive.test(c.getOpOwner()))) {
        for (VolumeUse u : c.getUsesList()) {
          if (VolumeKey.of(u).equals(key)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ release

  /**
   * Starts a container's cleanup: the volumes this container holds the last reference on (or
   * whose step is in flight) are returned for release; references on volumes that others still
   * use are dropped now. An unknown container gives null; one with nothing to release is
   * forgotten at once (empty list).
   */
  public static List<VolumeKey> beginCleanup(StateView view, Changes ch, String cid, Actor a) {
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
      ch.removeContainer(cid);
      return last;
    }
    // References on volumes that others still use are dropped in this same record: a
    // concurrent cleanup of those others must see that it holds the last one.
    Container cleaning = c.toBuilder().setStatus(ContainerStatus.CLEANING).setOpOwner(a.owner()).build();
    for (VolumeUse u : c.getUsesList()) {
      if (!last.contains(VolumeKey.of(u))) {
        cleaning = withUse(cleaning, VolumeKey.of(u), false);
      }
    }
    ch.putContainer(cleaning);
    return last;
  }

  /**
   * Drops {@code cid}'s reference on {@code key} (cid may be null: a volume nobody uses) and,
   * if nobody else holds it and it is not pinned, writes the intent to release it. Returns the
   * RELEASING record, or null when the volume stays.
   */
  public static Volume beginRelease(StateView view, Changes ch, String cid, VolumeKey key, Actor a) {
    Container c = cid == null ? null : view.container(cid);
    if (c != null) {
      ch.putContainer(withUse(c, key, false));
    }
    Volume cur = view.volume(key);
    if (cur == null || cur.getPinned() || view.otherUsers(key, cid) > 0) {
      return null;
    }
    checkNotInFlight(cur, key, a);
    Volume rel = releasing(cur, a);
    ch.putVolume(rel);
    return rel;
  }

  /**
   * An operator's release ({@code dvdi release}): also of pinned (adopted) volumes and failed
   * releases (a mount under the mount root that state did not know is adopted first, as
   * recovery adopts it). With users it fails with VOLUME_BUSY naming them, unless
   * {@code force}, which drops their references first.
   */
  public static Volume beginOperatorRelease(StateView view, Changes ch, VolumeKey key, boolean force, Actor a) {
    Volume cur = view.volume(key);
    if (cur == null) {
      throw DvdiException.notFound("volume " + key + " is not in the mount table, and nothing is mounted at its "
          + "place under the mount root");
    }
    List<String> users = view.users(key);
    if (!users.isEmpty() && !force) {
      throw DvdiException.busy("volume " + key + " is used by " + users + "; use --force to release it anyway");
    }
    checkNotInFlight(cur, key, a);
    for (String u : users) {
      if (u.startsWith(OPERATOR_PREFIX)) {
        ch.removeContainer(u); // an operator's mount holds this volume only: it is gone with it
      } else {
        ch.putContainer(withUse(view.container(u), key, false));
      }
    }
    Volume rel = releasing(cur.toBuilder().setPinned(false).build(), a);
    ch.putVolume(rel);
    return rel;
  }

  /** Unmounted and detached: forget the volume, unless someone took it meanwhile. */
  public static void released(StateView view, Changes ch, VolumeKey key) {
    Volume now = view.volume(key);
    if (now != null && now.getStatus() != VolumeStatus.MOUNTED && view.users(key).isEmpty()) {
      ch.removeVolume(key);
    }
  }

  /**
   * A release (or the undo of a failed acquisition) failed or is in doubt: kept as RELEASING
   * with why, and the count of failures in a row, for the retry loop's backoff. The count
   * belongs to one life of the volume: a mount ({@link #mounted}) or a new acquisition
   * ({@link #attaching}) starts it at zero, a release ({@link #released}) forgets it with the volume.
   */
  public static void releaseFailed(StateView view, Changes ch, VolumeKey key, String why, Actor a) {
    Volume now = view.volume(key);
    if (now != null && now.getStatus() != VolumeStatus.MOUNTED && view.users(key).isEmpty()) {
      ch.putVolume(now.toBuilder().setStatus(VolumeStatus.RELEASING).setLastError(why).setLastErrorMs(a.nowMs())
          .setReleaseAttempts(now.getReleaseAttempts() + 1).build());
    }
  }

  /** When the retry loop may try a failed release again: doubling from {@code first}, at most {@code max}. */
  public static long nextRetryMs(Volume v, Duration first, Duration max) {
    if (v.getLastError().isEmpty()) {
      return 0;
    }
    int n = Math.max(0, Math.min(30, v.getReleaseAttempts() - 1));
    long delay = Math.min(max.toMillis(), first.toMillis() << n);
    return v.getLastErrorMs() + delay;
  }

  /** The container is gone: forget it. */
  public static void forgetContainer(StateView view, Changes ch, String cid) {
    if (view.container(cid) != null) {
      ch.removeContainer(cid);
    }
  }

  /** A mount under the mount root that state does not know: kept, pinned, until an operator releases it. */
  public static boolean adopt(StateView view, Changes ch, VolumeKey key, String hostPath, String device, Actor a) {
    if (view.volume(key) != null) {
      return false;
    }
    ch.putVolume(Volume.newBuilder().setDriver(key.driver()).setName(key.name()).setStatus(VolumeStatus.MOUNTED)
        .setHostPath(hostPath).setDevice(device).setBootId(a.bootId()).setSinceMs(a.nowMs()).setPinned(true).build());
    return true;
  }

  // ------------------------------------------------------------------ records

  /**
   * The one builder of the attach/mount intent. It begins the volume's next life: the failures
   * of an earlier release (their error and their count) are not this life's, so a failure from
   * here on starts the retry loop's backoff afresh.
   */
  static Volume attaching(VolumeKey key, VolumeOptions options, Volume cur, Actor a) {
    Volume.Builder b = cur == null ? Volume.newBuilder().setDriver(key.driver()).setName(key.name()) : cur.toBuilder();
    return b.setStatus(VolumeStatus.ATTACHING).clearOptions().addAllOptions(stored(options)).setBootId(a.bootId())
        .setSinceMs(a.nowMs()).setOpOwner(a.owner()).clearLastError().clearLastErrorMs().clearReleaseAttempts().build();
  }

  /**
   * The one builder of the release intent. The last failure's error is cleared (its count is
   * kept, for the backoff): a release under way is in flight, whatever failed before.
   */
  static Volume releasing(Volume cur, Actor a) {
    return cur.toBuilder().setStatus(VolumeStatus.RELEASING).setOpOwner(a.owner()).clearLastError().clearLastErrorMs()
        .build();
  }

  /** The outcome of attach and mount. */
  public static Volume mounted(VolumeKey key, VolumeOptions options, String hostPath, String device,
      Map<String, String> providerData, long hostDev, Actor a) {
    return Volume.newBuilder().setDriver(key.driver()).setName(key.name()).setStatus(VolumeStatus.MOUNTED)
        .addAllOptions(stored(options)).setHostPath(hostPath).setDevice(device).putAllProviderData(providerData)
        .setHostDev(hostDev).setBootId(a.bootId()).setSinceMs(a.nowMs()).build();
  }

  /** True when {@code v}'s intent was written by another dvdi process that still runs. */
  public static boolean actorOwnsLiveStep(Volume v, Actor a) {
    return a.othersStep(v.getOpOwner());
  }

  /** A step in flight in another live dvdi process is left alone (VOLUME_BUSY). */
  static void checkNotInFlight(Volume cur, VolumeKey key, Actor a) {
    if (cur == null || cur.getStatus() == VolumeStatus.MOUNTED || !cur.getLastError().isEmpty()
        || !a.othersStep(cur.getOpOwner())) {
      return;
    }
    String[] o = cur.getOpOwner().split(":");
    throw DvdiException.busy("volume " + key + " is being " + (cur.getStatus() == VolumeStatus.ATTACHING ? "attached" : "released")
        + " by another dvdi process (" + o[0] + (o.length > 1 ? ", pid " + o[1] : "") + "); try again when it is done");
  }

  /** Options as stored: without the one-shot ones (recovery's remount must not repeat them). */
  static List<Option> stored(VolumeOptions o) {
    List<Option> out = new ArrayList<>();
    RequestPolicy.storable(o).asMap().forEach((k, v) -> out.add(Option.newBuilder().setKey(k).setValue(v).build()));
    return out;
  }

  static VolumeOptions options(Volume v) {
    Map<String, String> m = new LinkedHashMap<>();
    for (Option o : v.getOptionsList()) {
      m.put(o.getKey(), o.getValue());
    }
    return new VolumeOptions(m, "options of " + v.getDriver() + "/" + v.getName());
  }

  static VolumeHandle handle(Volume v) {
    return new VolumeHandle(v.getName(), options(v), v.getHostPath(), v.getDevice(), v.getProviderDataMap());
  }

  static Container container(PrepareRequest req, Map<VolumeKey, String> targets, ContainerStatus status, boolean acquired,
      Actor a) {
    Container.Builder c = Container.newBuilder().setId(req.containerId()).setStatus(status).setSinceMs(a.nowMs())
        .setOpOwner(a.owner());
    for (VolumeRequest v : req.volumes()) {
      c.addUses(VolumeUse.newBuilder().setDriver(v.driver()).setName(v.name()).setTarget(targets.get(v.key()))
          .setReadOnly(v.readOnly()).setAcquired(acquired).setContainerPath(v.containerPath()));
    }
    return c.build();
  }

  static Container withUse(Container c, VolumeKey key, boolean acquired) {
    Container.Builder b = c.toBuilder();
    for (int i = 0; i < b.getUsesCount(); i++) {
      VolumeUse u = b.getUses(i);
      if (u.getDriver().equals(key.driver()) && u.getName().equals(key.name())) {
        b.setUses(i, u.toBuilder().setAcquired(acquired));
      }
    }
    return b.build();
  }

}
