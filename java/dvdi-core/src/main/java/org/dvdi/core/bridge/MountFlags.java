package org.dvdi.core.bridge;

/** Linux mount(2) flags used in ContainerLaunchInfo mounts. */
final class MountFlags {
  static final long MS_RDONLY = 1;
  static final long MS_BIND = 4096;
  static final long MS_REC = 16384;

  private MountFlags() {}

  /** A recursive bind, read-only when asked (the launcher remounts it read-only). */
  static long bind(boolean readOnly) {
    return MS_BIND | MS_REC | (readOnly ? MS_RDONLY : 0);
  }
}
