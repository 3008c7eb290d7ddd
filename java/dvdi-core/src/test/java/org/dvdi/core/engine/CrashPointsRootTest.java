package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.engine.Results.CleanupResult;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.testing.CrashPointTrace;
import org.dvdi.core.testing.HarnessJvm;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash-point harness (issue 7): for every named step boundary of prepare, cleanup,
 * release and recovery ({@link CrashPoints#ALL}) and every operation that reaches it, a
 * separate JVM runs the operation and is killed with SIGKILL at that point
 * ({@code -Ddvdi.test.crash-at}); then a new dvdi recovers, with the containers the agent says
 * are live, and the test checks that no mount, loop device, state record or pool holder is
 * left of what no live container holds, that each live container's volume is mounted with its
 * data and can be written, that after their cleanup nothing at all is left, and that the data
 * of every volume is still in its image.
 *
 * <p>Which points an operation reaches is found by running it once under the debugger
 * ({@link CrashPointTrace}); each scenario is then crashed at each of those points. One line
 * goes to standard output: "N crash points, M consistent" (N crashed runs).
 */
@RequiresRoot
class CrashPointsRootTest {
  private static final Logger LOG = Logger.getLogger(CrashPointsRootTest.class.getName());

  /** The container the agent recovers as live, and its volume. */
  static final String LIVE = "live";
  static final String KEPT = "kept";
  /** The container the operation is about (dead once the agent restarts), and its own volume. */
  static final String OTHER = "other";
  static final String VOL = "v";
  static final String DRIVER = "loop";
  /** An operator's mount of {@code loop/<name>} is held by container {@code operator:loop/<name>}. */
  static final String OPERATOR = MountTable.OPERATOR_PREFIX + DRIVER + "/";
  /** The file written into a volume before the crash. */
  static final String BEFORE = "before.txt";

  static final Duration JVM_TIMEOUT = Duration.ofSeconds(60);
  /** How long a detached loop device may take to go (see {@link #loopsOf(Run, Set)}). */
  static final Duration LOOP_SETTLE = Duration.ofSeconds(5);

  @TempDir
  Path tmp;

  /** What a scenario sets up, in the test's own dvdi, before the operation that crashes. */
  interface Setup {
    void run(Run r, Dvdi d) throws Exception;
  }

  /**
   * One operation that crashes: its setup, the harness's arguments (see
   * {@link org.dvdi.core.testing.CrashHarness}), and what the restarted agent says: the
   * containers it recovered ({@code live}; always {@link #LIVE}, sometimes also the one the
   * operation was about) and those of them it destroys right after recovery ({@code destroyed}:
   * Mesos destroys a container whose launch did not finish). An operation that is complete
   * from point {@code completeFrom} on (an operator's mount once it is READY) leaves
   * {@code heldOnceComplete} (container: volume) held besides the live container's volume.
   */
  record Scenario(String name, String what, Setup setup, List<String> harness, Set<String> live,
      List<String> destroyed, String completeFrom, Map<String, String> heldOnceComplete) {
    Scenario(String name, String what, Setup setup, List<String> harness) {
      this(name, what, setup, harness, Set.of(LIVE), List.of(), null, Map.of());
    }

    Scenario(String name, String what, Setup setup, List<String> harness, Set<String> live, List<String> destroyed) {
      this(name, what, setup, harness, live, destroyed, null, Map.of());
    }

    /**
     * Who must hold which volume after recovery (container: volume), the operation crashed
     * at {@code point} of the points it reaches, in {@code order} (null: it was not crashed).
     */
    Map<String, String> held(String point, List<String> order) {
      Map<String, String> out = new TreeMap<>(Map.of(LIVE, KEPT));
      if (point == null || (completeFrom != null && order.indexOf(point) >= order.indexOf(completeFrom))) {
        out.putAll(heldOnceComplete);
      }
      return out;
    }
  }

  /** One run of a scenario, on directories of its own; {@code written} is the data each volume should hold. */
  static final class Run {
    final TestDvdi t;
    final Map<String, String> written = new TreeMap<>();

    Run(Path dir) throws IOException {
      t = new TestDvdi(dir);
    }

    Path hostPath(Dvdi d, String volume) {
      return Path.of(d.state().freshView().volume(key(volume)).getHostPath());
    }

    void prepare(Dvdi d, String cid, String... volumes) throws IOException {
      Map<String, String> env = new LinkedHashMap<>();
      for (int i = 0; i < volumes.length; i++) {
        env.put("DVDI_VOLUME_NAME" + (i == 0 ? "" : Integer.toString(i)), volumes[i]);
      }
      d.manager().prepare(t.request(cid, env)).join();
    }

    void write(Dvdi d, String volume) throws IOException {
      String data = "written into " + volume + " before the crash, in " + t.root.getFileName();
      Files.writeString(hostPath(d, volume).resolve(BEFORE), data);
      written.put(volume, data);
    }
  }

  static VolumeKey key(String volume) {
    return new VolumeKey(DRIVER, volume);
  }

  /** The live container holds {@link #KEPT}, with data. */
  static void liveHoldsKept(Run r, Dvdi d) throws IOException {
    r.prepare(d, LIVE, KEPT);
    r.write(d, KEPT);
  }

  /** The live container holds {@link #KEPT}; the other holds it too, and {@link #VOL} (with data) alone. */
  static void otherAlsoHoldsOwn(Run r, Dvdi d) throws IOException {
    liveHoldsKept(r, d);
    r.prepare(d, OTHER, VOL, KEPT);
    r.write(d, VOL);
  }

  static List<Scenario> scenarios() {
    return List.of(
        new Scenario("prepare-new", "prepare of a new volume", CrashPointsRootTest::liveHoldsKept,
            List.of("prepare", OTHER, VOL)),
        new Scenario("prepare-new-recovered", "prepare of a new volume, the container recovered by Mesos and destroyed",
            CrashPointsRootTest::liveHoldsKept, List.of("prepare", OTHER, VOL), Set.of(LIVE, OTHER), List.of(OTHER)),
        new Scenario("prepare-shared", "prepare of a volume a live container holds", CrashPointsRootTest::liveHoldsKept,
            List.of("prepare", OTHER, KEPT)),
        new Scenario("cleanup-last", "cleanup of the last user of one volume (and a user of a shared one)",
            CrashPointsRootTest::otherAlsoHoldsOwn, List.of("cleanup", OTHER)),
        new Scenario("release", "operator release (dvdi release) of an adopted volume", (r, d) -> {
          liveHoldsKept(r, d);
          r.prepare(d, OTHER, VOL);
          r.write(d, VOL);
          // State loses the other container and its volume (damage, deleted by hand); recovery
          // adopts the mount and keeps it until an operator releases it.
          d.state().mutate((v, ch) -> {
            ch.removeContainer(OTHER);
            ch.removeVolume(key(VOL));
            return null;
          });
          RecoverResult rec = d.manager().recover(Set.of(LIVE), Set.of()).join();
          assertEquals(List.of(key(VOL)), rec.adoptedVolumes(), "set-up: the volume is adopted");
        }, List.of("release", DRIVER + "/" + VOL)),
        new Scenario("operator-mount", "an operator's dvdi mount of a new volume", CrashPointsRootTest::liveHoldsKept,
            List.of("mount", DRIVER + "/" + VOL), Set.of(LIVE), List.of(), "prepare.ready", Map.of(OPERATOR + VOL, VOL)),
        new Scenario("operator-unmount", "an operator's dvdi unmount", (r, d) -> {
          liveHoldsKept(r, d);
          d.manager().operatorMount(key(VOL), new VolumeOptions(Map.of(), "dvdi mount"), false).join();
          r.write(d, VOL);
        }, List.of("unmount", DRIVER + "/" + VOL), Set.of(LIVE), List.of(), null, Map.of()),
        new Scenario("recover", "recovery of a dead container (own and shared volume) and a live one",
            CrashPointsRootTest::otherAlsoHoldsOwn, List.of("recover", LIVE)),
        new Scenario("recover-remount", "recovery of a dead container and a live one whose mount the kernel lost", (r, d) -> {
          otherAlsoHoldsOwn(r, d);
          run(List.of("umount", r.hostPath(d, KEPT).toString()));
        }, List.of("recover", LIVE)));
  }

  @Test
  void crashAtEveryNamedPoint_recoveryLeavesNothingBehindAndLiveVolumesUsable() throws Exception {
    long t0 = System.nanoTime();
    Map<String, Set<String>> reachedBy = new TreeMap<>(); // point -> scenarios
    List<String> inconsistent = new ArrayList<>(); // crashed runs
    List<String> uncrashedInconsistent = new ArrayList<>();
    List<String> harnessFailures = new ArrayList<>();
    int crashes = 0;
    for (Scenario s : scenarios()) {
      // The operation once, not crashed: which points it reaches; the outcome is checked too.
      Run trace = new Run(tmp.resolve(s.name() + "-trace"));
      setUp(trace, s);
      CrashPointTrace.Result tr = CrashPointTrace.run(s.harness(), trace.t.settings, trace.t.root.resolve("harness.log"),
          JVM_TIMEOUT);
      if (tr.exitCode() != 0 || !tr.log().contains("done")) {
        harnessFailures.add(s.name() + ": the operation failed without a crash (exit " + tr.exitCode() + "): " + tr.log());
        scrub(trace);
        continue;
      }
      List<String> uncrashed = check(trace, s, s.held(null, tr.reached()));
      if (!uncrashed.isEmpty()) {
        uncrashedInconsistent.add(s.name() + " (not crashed): " + uncrashed);
      }
      Set<String> points = new LinkedHashSet<>(tr.reached());
      for (String p : points) {
        if (!CrashPoints.ALL.contains(p)) {
          harnessFailures.add(s.name() + " reached '" + p + "', which CrashPoints.ALL does not name");
        }
      }
      for (String p : points) {
        crashes++;
        reachedBy.computeIfAbsent(p, k -> new TreeSet<>()).add(s.name());
        Run r = new Run(tmp.resolve(s.name() + "-" + p));
        setUp(r, s);
        List<String> problems = crashAt(r, s, p);
        problems = problems.isEmpty() ? check(r, s, s.held(p, tr.reached())) : problems;
        if (!problems.isEmpty()) {
          inconsistent.add(s.name() + " @ " + p + ": " + problems);
        }
      }
      LOG.info(s.name() + " (" + s.what() + "): crashed at " + points + "; not reached: " + notIn(points));
    }
    System.out.println(crashes + " crash points, " + (crashes - inconsistent.size()) + " consistent");
    LOG.info("crash points: " + crashes + " crashed runs of " + scenarios().size() + " scenarios in "
        + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) + " s");
    Set<String> never = new TreeSet<>(CrashPoints.ALL);
    never.removeAll(reachedBy.keySet());
    List<String> failures = new ArrayList<>(harnessFailures);
    if (!never.isEmpty()) {
      failures.add("crash points no scenario reaches: " + never);
    }
    failures.addAll(uncrashedInconsistent);
    failures.addAll(inconsistent);
    assertTrue(failures.isEmpty(), inconsistent.size() + " of " + crashes + " crash points inconsistent; all failures:\n"
        + String.join("\n", failures));
  }

  private static List<String> notIn(Set<String> points) {
    List<String> out = new ArrayList<>(CrashPoints.ALL);
    out.removeAll(points);
    return out;
  }

  private static void setUp(Run r, Scenario s) throws Exception {
    try (Dvdi d = r.t.open(Dvdi.WRITER_AGENT)) {
      s.setup().run(r, d);
    }
  }

  /** Runs the operation in its own JVM with the switch at {@code point}; empty when it died there. */
  private static List<String> crashAt(Run r, Scenario s, String point) throws Exception {
    Path marker = r.t.root.resolve("crashed-at");
    Path log = r.t.root.resolve("harness.log");
    Process p = HarnessJvm.start(HarnessJvm.command(List.of("-D" + CrashPoints.PROPERTY + "=" + point,
        "-D" + CrashPoints.MARKER_PROPERTY + "=" + marker), s.harness(), r.t.settings), log);
    if (!p.waitFor(JVM_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor();
      scrub(r);
      return List.of("the harness did not end within " + JVM_TIMEOUT + ": " + Files.readString(log));
    }
    if (p.exitValue() == 137 && Files.exists(marker) && Files.readString(marker).equals(point)) {
      return List.of();
    }
    scrub(r);
    return List.of("the harness did not crash at " + point + " (exit " + p.exitValue() + ", marker "
        + (Files.exists(marker) ? Files.readString(marker) : "absent") + "): " + Files.readString(log));
  }

  /**
   * After the operation (crashed or not): recovery with the live containers, then what must
   * hold ({@code held}: container: volume), then the cleanup of those, then nothing left.
   * Returns what is wrong (empty: consistent). Whatever is left is removed afterwards, so that
   * one bad point does not spoil the others.
   */
  private static List<String> check(Run r, Scenario s, Map<String, String> held) {
    List<String> bad = new ArrayList<>();
    try (Dvdi d = r.t.open(Dvdi.WRITER_AGENT)) {
      RecoverResult rec = d.manager().recover(s.live(), Set.of()).join();
      if (!rec.problems().isEmpty()) {
        bad.add("recovery reported problems " + rec.problems());
      }
      for (String cid : s.destroyed()) {
        CleanupResult c = d.manager().cleanup(cid).join();
        if (!c.failures().isEmpty()) {
          bad.add("the cleanup of " + cid + " (destroyed after recovery) failed: " + c.failures());
        }
      }
      checkOnlyHeld(r, d, held, bad);
      for (String cid : held.keySet()) {
        CleanupResult c = cid.startsWith(MountTable.OPERATOR_PREFIX) ? d.manager().operatorUnmount(key(held.get(cid))).join()
            : d.manager().cleanup(cid).join();
        if (!c.failures().isEmpty()) {
          bad.add("the cleanup of " + cid + " failed: " + c.failures());
        }
      }
      checkNothingLeft(r, d, "after the cleanup of " + held.keySet(), bad);
      checkDataKept(r, d, held.values(), bad);
    } catch (RuntimeException | IOException | AssertionError e) {
      bad.add("failed: " + e);
    } finally {
      scrub(r);
    }
    return bad;
  }

  /**
   * Only the containers in {@code held} and their volumes are known, mounted, attached, held
   * in the pool; what was written into those volumes is there, and they can be written.
   */
  private static void checkOnlyHeld(Run r, Dvdi d, Map<String, String> held, List<String> bad) throws IOException {
    StateView view = d.state().freshView();
    Set<VolumeKey> keys = new TreeSet<>();
    held.values().forEach(v -> keys.add(key(v)));
    if (!view.containers().keySet().equals(held.keySet())) {
      bad.add("containers in state " + view.containers().keySet() + ", expected only " + held.keySet());
    }
    if (!view.volumes().keySet().equals(keys)) {
      bad.add("volumes in state " + view.volumes().keySet() + ", expected only " + keys);
    }
    Map<String, String> hostPaths = new TreeMap<>(); // volume: host path
    Set<String> images = new TreeSet<>();
    for (Map.Entry<String, String> h : held.entrySet()) {
      Container c = view.container(h.getKey());
      if (c == null || c.getUsesList().stream().noneMatch(u -> u.getName().equals(h.getValue()) && u.getAcquired())) {
        bad.add(h.getKey() + " does not hold " + key(h.getValue()) + ": " + c);
      }
      Volume v = view.volume(key(h.getValue()));
      if (v == null || v.getStatus() != VolumeStatus.MOUNTED) {
        bad.add(key(h.getValue()) + " is not MOUNTED in state: " + v);
        continue;
      }
      hostPaths.put(h.getValue(), v.getHostPath());
      images.add(r.t.pool.resolve(h.getValue() + ".img").toString());
    }
    Set<String> mounts = mountsUnder(r);
    if (!mounts.equals(new TreeSet<>(hostPaths.values()))) {
      bad.add("mounts under the mount root " + mounts + ", expected only " + hostPaths.values());
    }
    Set<String> loops = loopsOf(r, images);
    if (!loops.equals(images)) {
      bad.add("loop devices of the pool back " + loops + ", expected only " + images);
    }
    checkPoolHolders(d, "after recovery", new TreeSet<>(held.values()), bad);
    for (Map.Entry<String, String> hp : hostPaths.entrySet()) {
      Path host = Path.of(hp.getValue());
      if (!KernelMounts.read().isMountPoint(host)) {
        continue;
      }
      String expected = r.written.get(hp.getKey());
      String before = Files.exists(host.resolve(BEFORE)) ? Files.readString(host.resolve(BEFORE)) : null;
      if (expected != null && !expected.equals(before)) {
        bad.add("the data written before the crash is not at " + host.resolve(BEFORE) + ": " + before);
      }
      String now = "written after recovery";
      Files.writeString(host.resolve("after.txt"), now);
      if (!Files.readString(host.resolve("after.txt")).equals(now)) {
        bad.add(host + " does not keep what is written to it");
      }
    }
  }

  /**
   * Every volume released meanwhile (not in {@code checked}, whose data was read while held)
   * still holds what was written into it: mounted for a container of the test's, read, released.
   */
  private static void checkDataKept(Run r, Dvdi d, java.util.Collection<String> checked, List<String> bad)
      throws IOException {
    for (Map.Entry<String, String> e : r.written.entrySet()) {
      if (checked.contains(e.getKey())) {
        continue;
      }
      String cid = "check-" + e.getKey();
      r.prepare(d, cid, e.getKey());
      Path f = r.hostPath(d, e.getKey()).resolve(BEFORE);
      String found = Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8) : null;
      if (!e.getValue().equals(found)) {
        bad.add("the data of " + key(e.getKey()) + " is lost: " + f + " holds " + found);
      }
      CleanupResult c = d.manager().cleanup(cid).join();
      if (!c.failures().isEmpty()) {
        bad.add("releasing " + key(e.getKey()) + " after reading it failed: " + c.failures());
      }
      checkNothingLeft(r, d, "after reading " + key(e.getKey()), bad);
    }
  }

  /**
   * The loop pool's own record of who holds each volume: only {@code held} are held (by this
   * host), the others are free for another agent to take (not stranded).
   */
  private static void checkPoolHolders(Dvdi d, String when, Set<String> held, List<String> bad) {
    CallContext ctx = CallContext.of(Duration.ofSeconds(30), "crash-point check", d.config().instanceId());
    for (VolumeInfo v : d.providers().get(DRIVER).list(ctx)) {
      boolean holds = !v.attachedTo().isEmpty();
      if (holds != held.contains(v.name())) {
        bad.add(when + ": the loop pool says " + key(v.name()) + " is " + (holds ? "held by '" + v.attachedTo() + "'" : "free")
            + ", expected " + (held.contains(v.name()) ? "held" : "free"));
      }
    }
  }

  private static void checkNothingLeft(Run r, Dvdi d, String when, List<String> bad) {
    checkPoolHolders(d, when, Set.of(), bad);
    StateView view = d.state().freshView();
    if (!view.containers().isEmpty() || !view.volumes().isEmpty()) {
      bad.add(when + ": state still has containers " + view.containers().keySet() + ", volumes "
          + view.volumes().keySet());
    }
    if (!mountsUnder(r).isEmpty()) {
      bad.add(when + ": mounts left " + mountsUnder(r));
    }
    Set<String> loops = loopsOf(r, Set.of());
    if (!loops.isEmpty()) {
      bad.add(when + ": loop devices left backing " + loops);
    }
  }

  private static Set<String> mountsUnder(Run r) {
    Set<String> out = new TreeSet<>();
    for (KernelMounts.Mount m : KernelMounts.read().under(r.t.mountRoot)) {
      out.add(m.mountPoint());
    }
    return out;
  }

  /**
   * Backing files (in this run's pool) of attached loop devices, once they are {@code expected}
   * or {@link #LOOP_SETTLE} has passed: a detached device that something still has open (a
   * copy of the mount in a mount namespace another process on the host has just made) goes
   * away when that closes it, which is not a leak; one that dvdi never detached stays.
   */
  private static Set<String> loopsOf(Run r, Set<String> expected) {
    long until = System.nanoTime() + LOOP_SETTLE.toNanos();
    Set<String> now = loopsOf(r);
    while (!now.equals(expected) && System.nanoTime() < until) {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      now = loopsOf(r);
    }
    return now;
  }

  /** Backing files (in this run's pool) of attached loop devices. */
  private static Set<String> loopsOf(Run r) {
    Set<String> out = new TreeSet<>();
    for (String l : LeakCheck.loops()) {
      String file = l.substring(l.indexOf(" <- ") + 4);
      if (file.startsWith(r.t.pool + "/")) {
        out.add(file);
      }
    }
    return out;
  }

  /** Removes whatever a run left in the kernel (mounts, loop devices), so that one bad run spoils nothing else. */
  private static void scrub(Run r) {
    List<String> points = new ArrayList<>(mountsUnder(r));
    points.sort((a, b) -> b.length() - a.length());
    for (String m : points) {
      run(List.of("umount", "--lazy", m));
    }
    for (String l : LeakCheck.loops()) {
      if (l.substring(l.indexOf(" <- ") + 4).startsWith(r.t.pool + "/")) {
        run(List.of("losetup", "-d", l.substring(0, l.indexOf(' '))));
      }
    }
  }

  private static void run(List<String> cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        throw new AssertionError(cmd + " failed: " + out);
      }
    } catch (IOException e) {
      throw new AssertionError(cmd + " failed", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(cmd + " interrupted", e);
    }
  }
}
