package org.dvdi.core.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.dvdi.core.engine.SimHost.Outcome;
import org.dvdi.core.testing.SeededTries;
import org.dvdi.spi.testing.TmpDirs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The mount table, tested against a simple model (FoundationDB and TigerBeetle style, see
 * STYLE.md "Testing a state machine"). Random sequences of Mesos's prepare and cleanup,
 * agent crashes (state read back from disk, then recovery with the containers Mesos
 * recovered, some of them orphans), mounts the kernel loses behind dvdi's back, retry-loop
 * passes, and an operator's {@code dvdi mount}, {@code unmount} and {@code release
 * [--force]} (a separate CLI process) run on a simulated host ({@link SimWorld}) through the
 * engine's own sequence of {@link MountTable} transitions ({@link SimDvdi}). Every provider
 * call may fail, time out (its effect landing or not, while other work runs) or see its
 * process killed. Some actions overlap the next one (their steps interleave).
 *
 * <p>After every action that leaves nothing queued, {@link SimWorld#checkQuiet} and
 * {@link SimWorld#checkQuiescent} check the invariants; every prepare checks, when it
 * answers, that the host paths it hands out are mounted.
 */
class MountTableModelTest {
  static final int VOLUMES = 3;

  private static Path disk;

  @BeforeAll
  static void makeDisk() throws IOException {
    disk = TmpDirs.newDir();
  }

  @AfterAll
  static void removeDisk() throws IOException {
    try (var s = Files.walk(disk)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.delete(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }

  /** One step of a sequence; {@code faults} are the outcomes of the provider calls it makes (then: success). */
  sealed interface Action {
    List<Outcome> faults();

    void apply(SimWorld w);
  }

  record Prepare(List<Integer> volumes, boolean overlap, List<Outcome> faults) implements Action {
    public void apply(SimWorld w) {
      w.prepare(volumes.stream().map(SimWorld::vol).toList(), overlap);
    }
  }

  record Cleanup(int pick, boolean overlap, List<Outcome> faults) implements Action {
    public void apply(SimWorld w) {
      w.cleanup(pick, overlap);
    }
  }

  record CrashAgent(List<Outcome> faults) implements Action {
    public void apply(SimWorld w) {
      w.crashAgent();
    }
  }

  record KernelLoses(int volume) implements Action {
    public List<Outcome> faults() {
      return List.of();
    }

    public void apply(SimWorld w) {
      w.kernelLoses(SimWorld.vol(volume));
    }
  }

  record ReaperPass(List<Outcome> faults) implements Action {
    public void apply(SimWorld w) {
      w.reaper();
    }
  }

  record OperatorMount(int volume, List<Outcome> faults) implements Action {
    public void apply(SimWorld w) {
      w.operatorMount(SimWorld.vol(volume));
    }
  }

  record OperatorUnmount(int volume, List<Outcome> faults) implements Action {
    public void apply(SimWorld w) {
      w.operatorUnmount(SimWorld.vol(volume));
    }
  }

  record OperatorRelease(int volume, boolean force, List<Outcome> faults) implements Action {
    public void apply(SimWorld w) {
      w.operatorRelease(SimWorld.vol(volume), force);
    }
  }

  /** Runs a sequence, checking the invariants after every action that leaves nothing queued, and at the end. */
  static SimWorld run(List<Action> actions, long seed) {
    SimWorld w = new SimWorld(seed, disk);
    for (Action a : actions) {
      w.advance(SimDvdi.RETRY.toMillis() / 2);
      w.host().plan(a.faults());
      if (!a.faults().isEmpty()) {
        w.log.add("(next calls: " + a.faults() + ")");
      }
      a.apply(w);
      w.rethrow();
      if (w.quiet()) {
        w.checkQuiet();
        w.checkQuiescent();
      }
    }
    w.host().plan(List.of());
    w.scheduler().drain();
    w.rethrow();
    w.checkQuiet();
    w.checkQuiescent();
    return w;
  }

  static final String REPLAY = "./mvnw -B -ntp -pl java/dvdi-core -am test -Dsurefire.failIfNoSpecifiedTests=false "
      + "-Dtest=MountTableModelTest#mountTableKeepsItsInvariants";

  @Test
  void mountTableKeepsItsInvariants() {
    new SeededTries<Action>(REPLAY, MountTableModelTest::sequence, MountTableModelTest::run).check(10_000);
  }

  /**
   * Found by the property (fixed: the pseudo-container goes with the forced release): {@code dvdi release --force} of a volume an operator had mounted
   * drops the reference of {@code operator:<volume>} but keeps that pseudo-container (READY,
   * holding nothing), so the operator's next {@code dvdi mount} of the volume fails with
   * "container operator:... is already prepared" until a {@code dvdi unmount}.
   */
  @Test
  void forcedReleaseOfAnOperatorsMountLetsTheOperatorMountItAgain() {
    run(List.of(new OperatorMount(0, List.of()), new OperatorRelease(0, true, List.of()),
        new OperatorMount(0, List.of())), 1L);
  }

  /**
   * Found by the property (shrunk): c3's prepare has taken its reference on v0 (mounted, used
   * by c1 and c2) and is mounting v1 and v2 when {@code dvdi release --force v0} drops every
   * reference on v0 and releases it: the unmount succeeds, the detach fails, so v0 stays
   * RELEASING (to be retried). c3's prepare then ends with {@link MountTable#prepared}, which
   * marks c3 READY without looking at its references, and {@link MountTable#hostPaths}
   * hands out v0's host path, which is no longer mounted: the container's bind would land on
   * an empty directory of the root disk. (Had the detach succeeded too, the record would be
   * gone and hostPaths would throw a NullPointerException, which the engine turns into a
   * rollback by accident.) The same happens whenever the agent finishes a prepare while a
   * CLI's forced release of one of its volumes is under way. Fixed: {@link MountTable#prepared}
   * fails (VOLUME_BUSY) unless every volume is still held and mounted, and the prepare is rolled back.
   */
  @Test
  void forcedReleaseDuringAPrepareFailsThatPrepare() {
    run(List.of(new Prepare(List.of(0), false, List.of()), new Prepare(List.of(0), false, List.of()),
        new Prepare(List.of(0, 1, 2), true, List.of()), new OperatorRelease(0, true, List.of(Outcome.OK, Outcome.FAIL)),
        new Prepare(List.of(0), false, List.of())), 0L).checkTableHoldsWhatPreparesHandedOut();
  }

  /** The same, with v0's release failing at its unmount: c2 is READY without its reference on v0, still mounted. */
  @Test
  void forcedReleaseDuringAPrepareLeavesNoReadyContainerWithoutItsReference() {
    run(List.of(new Prepare(List.of(0), false, List.of()), new Prepare(List.of(0, 1), true, List.of()),
        new Prepare(List.of(0), true, List.of()), new OperatorRelease(0, true, List.of(Outcome.FAIL)),
        new Prepare(List.of(0), false, List.of())), -233L).checkTableHoldsWhatPreparesHandedOut();
  }

  /**
   * Found by the property (shrunk): a forced release of v1 by the CLI fails (its detach times
   * out), leaving v1 RELEASING with a last error. Cleanup of c1 makes the agent release v1 again;
   * while the agent's unmount call is slow, {@code dvdi mount v1} runs in the CLI:
   * {@link MountTable#checkNotInFlight} lets it through, since the record still carries the
   * earlier failure's last error ({@link MountTable#releasing} keeps it), so the CLI attaches
   * and mounts v1 and marks operator:v1 READY; then the agent's late unmount lands and
   * {@link MountTable#releaseFailed} sets the held, mounted record back to RELEASING. The
   * operator's mount is gone, the table says it is held, and the reaper skips it (it has a user).
   * Fixed: a release under way clears the last error (it is in flight), and a failed release never
   * touches a record that is MOUNTED or held.
   */
  @Test
  void cliMountDuringTheAgentsRetriedReleaseIsRefused() {
    run(List.of(new CrashAgent(List.of()), new Prepare(List.of(1), true, List.of()),
        new Prepare(List.of(0), false, List.of(Outcome.CRASH_DONE)),
        new OperatorRelease(1, true, List.of(Outcome.TIMEOUT_DONE)), new Cleanup(0, true, List.of()),
        new Cleanup(0, false, List.of()), new OperatorMount(1, List.of(Outcome.TIMEOUT_DONE))), 0L);
  }

  /**
   * Found by the property (shrunk): recovery decides to mount v2 again for the operator's
   * mount (the kernel lost it, the agent crashed), and while the agent's remount runs, the
   * operator's {@code dvdi unmount} drops the only holder (its release fails). The remount
   * then ended with v2 MOUNTED and held by nobody. Fixed: a remount whose holders went
   * meanwhile releases the volume instead ({@link MountTable#beginRemount},
   * {@link MountTable#remounted}).
   */
  @Test
  void remountWhoseHoldersWentMeanwhileIsReleased() {
    run(List.of(new Prepare(List.of(0), false, List.of()), new Prepare(List.of(0), false, List.of()),
        new Prepare(List.of(0), false, List.of()), new Prepare(List.of(0), false, List.of()),
        new Prepare(List.of(0), true, List.of()), new Prepare(List.of(1), false, List.of()),
        new Cleanup(0, false, List.of()), new Cleanup(0, false, List.of()), new Cleanup(0, true, List.of()),
        new OperatorMount(2, List.of()), new KernelLoses(2), new Prepare(List.of(2), true, List.of(Outcome.CRASH_DONE)),
        new OperatorUnmount(2, List.of(Outcome.FAIL))), -33L);
  }

  /** A sequence of 5 to 40 steps. */
  static List<Action> sequence(Random r) {
    int n = 5 + r.nextInt(36);
    List<Action> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(action(r));
    }
    return out;
  }

  /** The outcomes of the next 0 to 4 provider calls (then: success). */
  static List<Outcome> faults(Random r) {
    int n = r.nextInt(5);
    List<Outcome> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int x = r.nextInt(100);
      out.add(x < 55 ? Outcome.OK : x < 70 ? Outcome.FAIL : x < 80 ? Outcome.TIMEOUT_DONE : x < 88 ? Outcome.TIMEOUT_LOST
          : x < 94 ? Outcome.CRASH_DONE : Outcome.CRASH_LOST);
    }
    return out;
  }

  static Action action(Random r) {
    int x = r.nextInt(89);
    int vol = r.nextInt(VOLUMES);
    boolean overlap = r.nextInt(4) == 0;
    if (x < 30) {
      List<Integer> vols = new ArrayList<>();
      for (int i = 0, k = 1 + r.nextInt(VOLUMES); i < k; i++) {
        int v = r.nextInt(VOLUMES);
        if (!vols.contains(v)) {
          vols.add(v);
        }
      }
      return new Prepare(vols, overlap, faults(r));
    }
    if (x < 55) {
      return new Cleanup(r.nextInt(8), overlap, faults(r));
    }
    if (x < 61) {
      return new CrashAgent(faults(r));
    }
    if (x < 67) {
      return new KernelLoses(vol);
    }
    if (x < 73) {
      return new ReaperPass(faults(r));
    }
    if (x < 79) {
      return new OperatorMount(vol, faults(r));
    }
    if (x < 84) {
      return new OperatorUnmount(vol, faults(r));
    }
    return new OperatorRelease(vol, r.nextBoolean(), faults(r));
  }
}
