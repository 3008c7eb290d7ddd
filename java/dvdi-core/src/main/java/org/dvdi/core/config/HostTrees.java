package org.dvdi.core.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which host directories a container without an image may have a volume bound over: those
 * under an operator's prefix ({@code container.path-prefixes}), never a protected tree (the
 * system's directories, the Mesos agent's work and runtime directories, dvdi's own), nor a
 * directory holding one. Without an image the container sees the host's filesystem; a volume
 * the task filled, bound over {@code /etc} or {@code /usr}, would give it the host's setuid
 * programs with its own configuration.
 */
public final class HostTrees {
  /** Protected whatever the settings say (with every {@code /lib*} directory). */
  public static final List<String> SYSTEM = List.of("/etc", "/usr", "/bin", "/sbin", "/boot", "/root", "/proc",
      "/sys", "/dev");
  /** The Mesos agent's default work and runtime directories: protected whatever the settings say. */
  public static final List<String> MESOS = List.of("/var/lib/mesos", "/var/run/mesos", "/run/mesos");
  /** Top-level directories named {@code lib*} (lib, lib32, lib64, libx32...) are protected. */
  static final String LIB = "lib";

  private final List<Path> prefixes;
  private final Map<Path, String> protectedTrees;

  /**
   * @param prefixes where absolute host paths may be (normal absolute paths)
   * @param extra more protected trees, each with what it is ("state.dir")
   */
  HostTrees(List<Path> prefixes, Map<Path, String> extra) {
    Map<Path, String> p = new LinkedHashMap<>();
    for (String s : SYSTEM) {
      p.put(Path.of(s), "a system directory");
    }
    for (String s : MESOS) {
      p.put(Path.of(s), "a Mesos agent directory");
    }
    p.putAll(extra);
    this.protectedTrees = Map.copyOf(p);
    this.prefixes = List.copyOf(prefixes);
  }

  public List<Path> prefixes() {
    return prefixes;
  }

  /** Whether {@code p} (absolute, normal) is a prefix or inside one. */
  public boolean underPrefix(Path p) {
    for (Path x : prefixes) {
      if (p.startsWith(x)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The protected tree that {@code p} (absolute, normal) is, lies inside, or holds, described
   * ("/etc (a system directory)"), or null when there is none.
   */
  public String covered(Path p) {
    String in = inside(p);
    return in != null ? in : first(p, true);
  }

  /** The protected tree that {@code p} is or lies inside (the root counts), described; or null. */
  public String inside(Path p) {
    if (p.getNameCount() == 0) {
      return "/ (the root)";
    }
    if (p.getName(0).toString().startsWith(LIB)) {
      return "/" + p.getName(0) + " (a system directory)";
    }
    return first(p, false);
  }

  private String first(Path p, boolean holding) {
    List<String> hit = new ArrayList<>();
    for (Map.Entry<Path, String> t : protectedTrees.entrySet()) {
      if (holding ? t.getKey().startsWith(p) : p.startsWith(t.getKey())) {
        hit.add(t.getKey() + " (" + t.getValue() + ")");
      }
    }
    hit.sort(null);
    return hit.isEmpty() ? null : hit.get(0);
  }
}
