package org.dvdi.core.engine;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.DvdiException;

/**
 * A simulated provider and kernel, for {@link MountTableModelTest}: which volumes exist, which
 * are attached (devices), and what the kernel has mounted (host path to device). Each call's
 * outcome comes from the current fault plan: done, failed (nothing done), timed out (done or
 * not: a late call may still land) or the calling process killed (done or not).
 */
final class SimHost {
  /** Under it, {@code <driver>/<name>} is a volume's host path. */
  static final String MOUNT_ROOT = "/sim/mnt";

  enum Outcome { OK, FAIL, TIMEOUT_DONE, TIMEOUT_LOST, CRASH_DONE, CRASH_LOST }

  /** The process making the call was killed (SIGKILL) while the call was under way. */
  static final class Crash extends Error {
    private static final long serialVersionUID = 1L;
    final transient SimDvdi process;

    Crash(SimDvdi process, String where) {
      super(process.owner + " killed during " + where, null, false, false);
      this.process = process;
    }
  }

  final Set<VolumeKey> exists = new TreeSet<>();
  final Set<VolumeKey> attached = new TreeSet<>();
  /** The kernel's mount table: host path to device. */
  final Map<String, String> mounts = new TreeMap<>();
  /** Volumes whose mount was lost behind dvdi's back (someone ran umount) and not mounted since. */
  final Set<VolumeKey> lost = new TreeSet<>();
  /** How many times each volume's mount was lost so far. */
  final Map<VolumeKey, Integer> losses = new TreeMap<>();
  private Deque<Outcome> faults = new ArrayDeque<>();
  /** Every call and its outcome, for a failing sequence's report. */
  final List<String> log;

  SimHost(List<String> log) {
    this.log = log;
  }

  SimHost copy(List<String> newLog) {
    SimHost h = new SimHost(newLog);
    h.exists.addAll(exists);
    h.attached.addAll(attached);
    h.mounts.putAll(mounts);
    h.lost.addAll(lost);
    h.losses.putAll(losses);
    return h;
  }

  /** The outcomes of the next calls, in order; calls beyond them succeed. */
  void plan(List<Outcome> outcomes) {
    faults = new ArrayDeque<>(outcomes);
  }

  static String hostPath(VolumeKey k) {
    return MOUNT_ROOT + "/" + k.driver() + "/" + k.name();
  }

  static String device(VolumeKey k) {
    return "/dev/sim-" + k.name();
  }

  /** What KernelTruth says: the record's host path is a mount of the record's device. */
  boolean mounted(Volume v) {
    return !v.getDevice().isEmpty() && v.getDevice().equals(mounts.get(v.getHostPath()));
  }

  boolean mounted(VolumeKey k) {
    return mounts.containsKey(hostPath(k));
  }

  /** The next outcome for a call. */
  Outcome next() {
    Outcome o = faults.isEmpty() ? Outcome.OK : faults.poll();
    return o;
  }

  // The provider's steps: each idempotent, as the SPI asks.

  boolean inspect(VolumeKey k) {
    return exists.contains(k);
  }

  void create(VolumeKey k) {
    exists.add(k);
  }

  String attach(VolumeKey k) {
    if (!exists.contains(k)) {
      throw DvdiException.notFound("sim: volume " + k + " does not exist");
    }
    attached.add(k);
    return device(k);
  }

  String mount(VolumeKey k) {
    if (!attached.contains(k)) {
      throw DvdiException.provider("sim: " + device(k) + " is not attached");
    }
    mounts.put(hostPath(k), device(k));
    lost.remove(k);
    return hostPath(k);
  }

  /** Someone unmounts the volume's host path behind dvdi's back; true when it was mounted. */
  boolean lose(VolumeKey k) {
    if (mounts.remove(hostPath(k)) == null) {
      return false;
    }
    lost.add(k);
    losses.merge(k, 1, Integer::sum);
    return true;
  }

  /** As BlockVolumes.unmount: a handle without a host path (never mounted, as state knows) means the default place. */
  void unmount(VolumeKey k, String hostPath) {
    mounts.remove(hostPath.isEmpty() ? hostPath(k) : hostPath);
  }

  void detach(VolumeKey k) {
    if (mounts.containsValue(device(k))) {
      throw DvdiException.busy("sim: " + device(k) + " is mounted; not detaching it");
    }
    attached.remove(k);
  }
}
