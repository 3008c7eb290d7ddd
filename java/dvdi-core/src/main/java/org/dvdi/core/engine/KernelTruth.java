package org.dvdi.core.engine;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.dvdi.core.seams.Host;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.host.KernelMounts;

/**
 * The kernel is the truth about "is it mounted"; dvdi's state is only its memory of intent.
 * Every volume is asked about, whoever mounted it (dvdi itself for block providers, a plugin
 * or dvdcli for theirs), with two stat calls on the fast path and no parsing of the mount
 * table: a volume with a block device node is mounted when its host path's {@code st_dev}
 * equals the device's {@code st_rdev}; one without (a plugin's) when its host path is still
 * on the filesystem it was on right after the mount ({@code host_dev}, recorded then), so
 * that a mount that went away behind dvdi's back leaves the bare directory below it, which is
 * never taken for the volume. Records without {@code host_dev} (earlier versions) ask the
 * mount table whether the host path is a mount point. A volume whose recorded device node is
 * gone is not mounted, whatever is mounted at its host path (the dead mount of a device
 * detached behind dvdi's back). The kernel is asked through the engine's {@link Host}.
 */
final class KernelTruth {
  private final Host host;

  KernelTruth(Host host) {
    this.host = host;
  }

  /** True when {@code v}'s host path is on {@code v}'s mount (reading the mount table when needed). */
  boolean mounted(Volume v) {
    return mounted(v, host::mountTable);
  }

  /**
   * As {@link #mounted(Volume)}, with the mount table from {@code table} (recovery reads it once
   * for all volumes).
   */
  boolean mounted(Volume v, Supplier<KernelMounts> table) {
    if (v.getHostPath().isEmpty()) {
      return false;
    }
    try {
      Path hostPath = Path.of(v.getHostPath());
      if (v.getDevice().startsWith("/")) {
        Host.FileStat node;
        try {
          node = host.stat(Path.of(v.getDevice()), true);
        } catch (NoSuchFileException e) {
          // its device node (or the node a link named) went away, as after a force-detach
          // elsewhere: whatever is mounted at the host path is a dead mount, whose writes are lost
          return false;
        }
        if (node.blockDevice()) {
          return node.rdev() == deviceOf(hostPath);
        }
        // not a block device (a provider that mounts something else): as a volume without one
      }
      if (v.getHostDev() != 0) {
        return v.getHostDev() == deviceOf(hostPath);
      }
      // no device node and no filesystem recorded (a record of an earlier version): ask the mount table
      return table.get().isMountPoint(hostPath);
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** The {@code st_dev} of {@code path} (the filesystem it is on), not following a last symbolic link. */
  long deviceOf(Path path) throws IOException {
    return host.stat(path, false).dev();
  }

  /** As {@link #deviceOf}, or 0 (not known) when the path cannot be read. */
  long deviceOrUnknown(String path) {
    try {
      return path.isEmpty() ? 0 : deviceOf(Path.of(path));
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** The mount at {@code <mount root>/<driver>/<name>} of {@code key}, read now (see {@link #volumeMounts}). */
  Optional<KernelMounts.Mount> volumeMount(Path mountRoot, VolumeKey key) {
    return Optional.ofNullable(volumeMounts(host.mountTable(), mountRoot).get(key));
  }

  /**
   * The mounts in {@code table} at {@code <mount root>/<driver>/<name>}, by volume, whether state
   * knows them or not: the places block providers mount volumes at. Where several are stacked at
   * one place, the first the kernel lists.
   */
  static Map<VolumeKey, KernelMounts.Mount> volumeMounts(KernelMounts table, Path mountRoot) {
    Map<VolumeKey, KernelMounts.Mount> out = new LinkedHashMap<>();
    for (KernelMounts.Mount mt : table.under(mountRoot)) {
      Path rel = mountRoot.relativize(Path.of(mt.mountPoint()));
      if (rel.getNameCount() == 2) {
        out.putIfAbsent(new VolumeKey(rel.getName(0).toString(), rel.getName(1).toString()), mt);
      }
    }
    return out;
  }
}
