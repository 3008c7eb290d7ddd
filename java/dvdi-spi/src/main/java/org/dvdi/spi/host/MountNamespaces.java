package org.dvdi.spi.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.dvdi.spi.DvdiException;

/**
 * The mounts of a block device in every mount namespace on this host, not only dvdi's own: a
 * container's bind mount of a volume lives in the container's namespace, where
 * {@code /proc/self/mountinfo} does not show it. Reads {@code /proc/<pid>/ns/mnt} of every
 * process to find the namespaces, and one {@code /proc/<pid>/mountinfo} per namespace.
 */
public final class MountNamespaces {
  static final Path PROC = Path.of("/proc");
  static final Path SYS_CLASS_BLOCK = Path.of("/sys/class/block");

  /** A mount namespace ("mnt:[4026531840]"), the processes in it, and its mounts of the device. */
  public record Holder(String namespace, List<Long> pids, List<KernelMounts.Mount> mounts) {
    public Holder {
      pids = List.copyOf(pids);
      mounts = List.copyOf(mounts);
    }
  }

  private MountNamespaces() {}

  /** The namespace of this process, e.g. "mnt:[4026531840]". */
  public static String own() {
    try {
      return Files.readSymbolicLink(PROC.resolve("self/ns/mnt")).toString();
    } catch (IOException e) {
      throw DvdiException.internal("cannot read " + PROC.resolve("self/ns/mnt"), e);
    }
  }

  /**
   * Every mount namespace that has {@code device} (or one of its partitions) mounted: a mount
   * whose major:minor is the device's, or whose source is the device. Includes this process's
   * own namespace. Processes that exit meanwhile are skipped.
   */
  public static List<Holder> holding(String device) {
    String dev = BlockVolumes.canonical(device);
    Set<String> numbers = numbers(dev);
    List<Holder> out = new ArrayList<>();
    for (Map.Entry<String, List<Long>> ns : namespaces().entrySet()) {
      List<KernelMounts.Mount> mounts = new ArrayList<>();
      for (KernelMounts.Mount m : mountsOf(ns.getValue())) {
        if (numbers.contains(m.majorMinor()) || m.source().equals(dev) || m.source().equals(device)) {
          mounts.add(m);
        }
      }
      if (!mounts.isEmpty()) {
        out.add(new Holder(ns.getKey(), ns.getValue(), mounts));
      }
    }
    return out;
  }

  /** The mount namespaces on this host, each with its processes (in pid order). */
  static Map<String, List<Long>> namespaces() {
    Map<String, List<Long>> out = new LinkedHashMap<>();
    List<Long> pids = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(PROC, p -> p.getFileName().toString().matches("[0-9]+"))) {
      for (Path p : ds) {
        pids.add(Long.parseLong(p.getFileName().toString()));
      }
    } catch (IOException e) {
      throw DvdiException.internal("cannot list the processes in " + PROC, e);
    }
    pids.sort(null);
    for (long pid : pids) {
      try {
        String ns = Files.readSymbolicLink(PROC.resolve(pid + "/ns/mnt")).toString();
        out.computeIfAbsent(ns, k -> new ArrayList<>()).add(pid);
      } catch (IOException e) {
        // exited meanwhile (or a kernel thread's): nothing of it to read
      }
    }
    return out;
  }

  /** The mount table of a namespace, read through the first of its processes still there. */
  private static List<KernelMounts.Mount> mountsOf(List<Long> pids) {
    for (long pid : pids) {
      try {
        return KernelMounts.parse(Files.readString(PROC.resolve(pid + "/mountinfo"), StandardCharsets.UTF_8)).all();
      } catch (IOException e) {
        // exited meanwhile: try the next process of the namespace
      }
    }
    return List.of();
  }

  /** The major:minor numbers of {@code device} and of its partitions, from sysfs. */
  static Set<String> numbers(String device) {
    Set<String> out = new TreeSet<>();
    Path dir = SYS_CLASS_BLOCK.resolve(Path.of(device).getFileName().toString());
    read(dir.resolve("dev"), out);
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p -> Files.exists(p.resolve("partition")))) {
      for (Path part : ds) {
        read(part.resolve("dev"), out);
      }
    } catch (IOException e) {
      // not a block device known to sysfs: its source path is all there is to match
    }
    return out;
  }

  private static void read(Path file, Set<String> out) {
    try {
      out.add(Files.readString(file, StandardCharsets.US_ASCII).strip());
    } catch (IOException e) {
      // no such device (any more)
    }
  }
}
