package org.dvdi.core.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.FileHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.dvdi.spi.host.HostInfo;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;

/**
 * The engine's benchmark (issue 7): prints numbers, asserts nothing about time. Needs root (it
 * mounts loop volumes and tmpfs); without root it says so and exits 0 having done nothing.
 *
 * <ol>
 *   <li>prepare of a container without volumes and of a fast-path volume, idle and while one
 *       provider's calls hang until their deadline ({@link PrepareLoadBench}); goal: p99 loaded
 *       within 2x of idle;</li>
 *   <li>an agent's start while a provider is hung, with containers Mesos does not know
 *       ({@link StartBench}); goal: recover answers within its bound, containers without volumes
 *       prepare meanwhile, the orphans' volumes are released once the provider answers;</li>
 *   <li>{@code recover()} of 10,000 checkpointed containers over 1,000 volumes, all alive
 *       ({@link RecoverBench}); goal: p50 <= 1 s.</li>
 * </ol>
 *
 * <p>Run: {@code ./mvnw -B -ntp -Pbench -pl java/dvdi-core -am -DskipTests integration-test}
 * (see the README's "Benchmarks"). Arguments {@code key=value}: {@code only=prepare|start|recover},
 * {@code samples=1000} (per kind, phase and round), {@code rounds=2}, {@code warmup=500},
 * {@code hung=64}, {@code attach-timeout=3s}, {@code stagger=false} (true: the hanging prepares start
 * spread over the timeout instead of all at once), {@code paced=true} (false: samples back to
 * back, windows shorter than a deadline; for the smoke test), {@code orphans=20} and
 * {@code start-timeout=2s} (every step's timeout in the start bench),
 * {@code containers=10000}, {@code volumes=1000},
 * {@code runs=9}. Its files go to a new directory under {@code java.io.tmpdir} (the engine's log
 * to {@code engine.log} there), deleted at the end when nothing is mounted under it.
 */
public final class EngineBench {
  private EngineBench() {}

  public static void main(String[] args) throws Exception {
    System.exit(run(args, System.out));
  }

  /** Runs the bench; returns the exit code (0: every check held, or skipped without root; 1: a check failed). */
  public static int run(String[] args, PrintStream out) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (String s : args) {
      int eq = s.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("argument '" + s + "': expected key=value");
      }
      a.put(s.substring(0, eq), s.substring(eq + 1));
    }
    if (!HostInfo.isRoot()) {
      out.println("dvdi engine bench: SKIPPED: needs root (it mounts loop volumes and tmpfs)");
      return 0;
    }
    String only = a.getOrDefault("only", "all");
    Path base = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
    Files.createDirectories(base);
    Path root = Files.createTempDirectory(base, "dvdi-bench-");
    Runnable restoreLogging = logTo(root.resolve("engine.log"));
    out.printf("dvdi engine bench: %d CPUs, load average %s, JVM %s %s; files and engine log in %s%n",
        Runtime.getRuntime().availableProcessors(), loadAverage(), System.getProperty("java.version"),
        String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()), root);
    List<String> problems = new ArrayList<>();
    try {
      if (only.equals("all") || only.equals("prepare")) {
        problems.addAll(new PrepareLoadBench(root.resolve("prepare"), out, num(a, "samples", 1000), num(a, "rounds", 2),
            num(a, "warmup", 500), num(a, "hung", 64), a.getOrDefault("attach-timeout", "3s"),
            Boolean.parseBoolean(a.getOrDefault("stagger", "false")),
            Boolean.parseBoolean(a.getOrDefault("paced", "true"))).run());
      }
      if (only.equals("all") || only.equals("start")) {
        problems.addAll(new StartBench(root.resolve("start"), out, num(a, "orphans", 20),
            a.getOrDefault("start-timeout", "2s")).run());
      }
      if (only.equals("all") || only.equals("recover")) {
        problems.addAll(new RecoverBench(root.resolve("recover"), out, num(a, "containers", 10_000),
            num(a, "volumes", 1_000), num(a, "runs", 9)).run());
      }
    } finally {
      restoreLogging.run();
      out.printf("load average after: %s%n", loadAverage());
      problems.addAll(removeUnlessMounted(root));
    }
    for (String p : problems.subList(0, Math.min(20, problems.size()))) {
      out.println("PROBLEM: " + p);
    }
    if (problems.size() > 20) {
      out.println("PROBLEM: ... " + (problems.size() - 20) + " more");
    }
    return problems.isEmpty() ? 0 : 1;
  }

  private static int num(Map<String, String> a, String key, int dflt) {
    return a.containsKey(key) ? Integer.parseInt(a.get(key)) : dflt;
  }

  /**
   * The engine logs to a file: the bench's standard output carries only its numbers. Returns
   * what puts the handlers back (the smoke test runs in a JVM with other tests).
   */
  private static Runnable logTo(Path file) throws IOException {
    Logger rootLogger = LogManager.getLogManager().getLogger("");
    Handler[] before = rootLogger.getHandlers();
    Logger dvdi = Logger.getLogger("org.dvdi");
    Level level = dvdi.getLevel();
    for (Handler h : before) {
      rootLogger.removeHandler(h);
    }
    FileHandler h = new FileHandler(file.toString());
    h.setFormatter(new SimpleFormatter());
    rootLogger.addHandler(h);
    dvdi.setLevel(Level.INFO);
    return () -> {
      rootLogger.removeHandler(h);
      h.close();
      for (Handler b : before) {
        rootLogger.addHandler(b);
      }
      dvdi.setLevel(level);
    };
  }

  private static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
      return String.format(Locale.ROOT, "%s %s %s", f[0], f[1], f[2]);
    } catch (IOException e) {
      return "unknown";
    }
  }

  /**
   * Deletes the bench directory, unless something is still mounted under it or a loop device
   * still reads a file in it (then that is a problem, and the directory stays).
   */
  private static List<String> removeUnlessMounted(Path root) throws IOException {
    List<KernelMounts.Mount> mounts = KernelMounts.read().under(root);
    List<String> loops = new ArrayList<>();
    for (String l : LeakCheck.loops()) {
      if (l.contains(root.toString())) {
        loops.add(l);
      }
    }
    if (!mounts.isEmpty() || !loops.isEmpty()) {
      return List.of("left behind under " + root + ": " + mounts.size() + " mounts, loop devices " + loops
          + "; the directory is kept");
    }
    try (var walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
    return List.of();
  }
}
