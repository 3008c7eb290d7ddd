package org.dvdi.core.seams;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.dvdi.spi.host.KernelMounts;

/**
 * The engine's seam to the host it runs on: the mount table, stat of paths and device
 * nodes, the boot id, processes. {@link #REAL} is this machine; the deterministic simulation
 * passes a simulated host whose mounts vanish, whose device nodes go away and whose pids are
 * reused (DESIGN.md, "Seams").
 */
public interface Host {
  /** This machine. */
  Host REAL = new RealHost();

  /** The current boot's id: a different one means the kernel forgot every mount. */
  String bootId();

  /** The kernel's mount table, read now. */
  KernelMounts mountTable();

  /**
   * stat(2) of {@code path} ({@code lstat} of its last component unless {@code followLinks}).
   * Throws {@link java.nio.file.NoSuchFileException} when it does not exist.
   */
  FileStat stat(Path path, boolean followLinks) throws IOException;

  /** This process's pid. */
  long pid();

  /**
   * The start time (ms since the epoch) of the running process {@code pid}: empty when no
   * such process runs; 0 inside when the kernel does not say.
   */
  Optional<Long> processStartMs(long pid);

  /** What stat(2) says of a path: its filesystem ({@code st_dev}), the device a node stands for ({@code st_rdev}), its mode. */
  record FileStat(long dev, long rdev, int mode) {
    public boolean blockDevice() {
      return (mode & 0170000) == 0060000;
    }
  }
}
