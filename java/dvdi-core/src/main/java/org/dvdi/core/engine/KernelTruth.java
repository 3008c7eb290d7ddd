package org.dvdi.core.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.host.KernelMounts;

/**
 * The kernel is the truth about "is it mounted"; dvdi's state is only its memory of intent.
 * For volumes of providers that mount in this host's mount table (block providers), a volume
 * is mounted when its host path is on its device: the host path's {@code st_dev} equals the
 * device's {@code st_rdev} (two stat calls, no parsing of the mount table on the fast path).
 */
final class KernelTruth {
  private KernelTruth() {}

  /** True when {@code v}'s host path is a mount of {@code v}'s device (reading the mount table when needed). */
  static boolean mounted(Volume v) {
    return mounted(v, KernelMounts::read);
  }

  /**
   * As {@link #mounted(Volume)}, with the mount table from {@code table} (recovery reads it once
   * for all volumes).
   */
  static boolean mounted(Volume v, java.util.function.Supplier<KernelMounts> table) {
    if (v.getHostPath().isEmpty()) {
      return false;
    }
    try {
      Path host = Path.of(v.getHostPath());
      if (v.getDevice().isEmpty() || !v.getDevice().startsWith("/") || !Files.exists(Path.of(v.getDevice()))) {
        // no device node to compare with (a provider that mounts something else): ask the mount table
        return table.get().isMountPoint(host);
      }
      Path dev = Path.of(v.getDevice());
      Object rdev = Files.getAttribute(dev, "unix:rdev");
      Object mode = Files.getAttribute(dev, "unix:mode");
      boolean block = (((Integer) mode) & 0170000) == 0060000;
      if (!block) {
        // not a block device (a provider that mounts something else): ask the mount table
        return table.get().isMountPoint(host);
      }
      Object onDev = Files.getAttribute(host, "unix:dev", LinkOption.NOFOLLOW_LINKS);
      return ((Number) rdev).longValue() == ((Number) onDev).longValue();
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** A supplier that reads the mount table once, when first asked. */
  static java.util.function.Supplier<KernelMounts> once() {
    KernelMounts[] t = {null};
    return () -> {
      synchronized (t) {
        if (t[0] == null) {
          t[0] = KernelMounts.read();
        }
        return t[0];
      }
    };
  }

  /**
   * The mounts at {@code <mount root>/<driver>/<name>}, by volume, whether state knows them or
   * not: the places block providers mount volumes at. Where several are stacked at one place,
   * the first the kernel lists.
   */
  static Map<VolumeKey, KernelMounts.Mount> volumeMounts(Path mountRoot) {
    Map<VolumeKey, KernelMounts.Mount> out = new LinkedHashMap<>();
    for (KernelMounts.Mount mt : KernelMounts.read().under(mountRoot)) {
      Path rel = mountRoot.relativize(Path.of(mt.mountPoint()));
      if (rel.getNameCount() == 2) {
        out.putIfAbsent(new VolumeKey(rel.getName(0).toString(), rel.getName(1).toString()), mt);
      }
    }
    return out;
  }
}
