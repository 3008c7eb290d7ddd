package org.dvdi.core.sim;

/**
 * What a simulated provider does to the simulated host it runs on, and what the world asks of
 * it: device nodes, mounts. The world implements it over its simulated host.
 */
public interface SimHostOps {
  /** This host's name (who holds an attachment). */
  String hostId();

  /** Where the block device node of volume {@code name} is when it is attached. */
  String nodePath(String name);

  /** Makes the block device node of volume {@code name} (a new device) and returns its path. */
  String addNode(String name);

  void removeNode(String path);

  boolean nodeExists(String path);

  /** Mounts the filesystem on block device {@code node} at {@code target} (made if missing). */
  void mountDevice(String node, String target);

  /** Mounts a new filesystem of its own (as a plugin's tmpfs) at {@code target} (made if missing). */
  void mountFs(String target);

  void umount(String target);

  /** The source of what is mounted at {@code target}, or null. */
  String mountedAt(String target);

  /** Whether {@code node} is mounted anywhere on this host. */
  boolean deviceMounted(String node);

  /** Makes the directory {@code path} on whatever filesystem it lies on (as a plugin leaves its mount point). */
  void mkdirs(String path);
}
