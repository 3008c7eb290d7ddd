package org.dvdi.core.sim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.dvdi.core.sim.SimStorage.Outcome;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.testing.SeededTries;
import org.dvdi.spi.testing.TmpDirs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The real engine in a simulated world ({@link EngineWorld}): seeded tries of random steps
 * (Mesos's prepares and cleanups, agent restarts, host reboots, mounts lost behind dvdi's
 * back, force-detaches elsewhere, operators' commands in CLI processes, time passing), every
 * provider call done, failed, done then failed, late or hung as the step's fault plan says;
 * the invariants are checked as things happen and at the end, after a drain.
 */
class EngineSimTest {
  static final String REPLAY = "./mvnw -B -ntp -pl java/dvdi-core -am test -Dsurefire.failIfNoSpecifiedTests=false "
      + "-Dtest=EngineSimTest#theEngineKeepsItsInvariants";

  static Path sandboxes;

  @BeforeAll
  static void makeSandbox() throws IOException {
    sandboxes = TmpDirs.newDir();
  }

  @AfterAll
  static void removeSandbox() throws IOException {
    Files.deleteIfExists(sandboxes);
  }

  /** One step, with the outcomes of the provider calls it sets off (then: done). */
  record Step(String what, int a, int b, boolean flag, List<Outcome> faults) {
    void apply(EngineWorld w) {
      w.storage.plan(faults);
      switch (what) {
        case "prepare" -> {
          List<VolumeKey> vols = new ArrayList<>();
          for (int i = 0; i < 3; i++) {
            if ((a & (1 << i)) != 0) {
              vols.add(EngineWorld.vol(b, i));
            }
          }
          if (vols.isEmpty()) {
            vols.add(EngineWorld.vol(b, 0));
          }
          w.prepare(vols);
        }
        case "cleanup" -> w.cleanup(a);
        case "restart" -> w.restartAgent();
        case "reboot" -> w.reboot();
        case "lose" -> w.kernelLoses(EngineWorld.vol(b, a));
        case "force-detach" -> w.forceDetached(EngineWorld.vol(0, a));
        case "mount", "unmount", "release" -> w.cli(what, EngineWorld.vol(b, a), flag);
        default -> { }
      }
      w.advance(Duration.ofMillis(flag && what.equals("wait") ? 30_000 : 500));
      w.rethrow();
    }
  }

  static List<Outcome> faults(Random r) {
    List<Outcome> out = new ArrayList<>();
    for (int i = 0, n = r.nextInt(4); i < n; i++) {
      int x = r.nextInt(100);
      out.add(x < 55 ? Outcome.OK : x < 72 ? Outcome.FAIL : x < 84 ? Outcome.FAIL_AFTER : x < 95 ? Outcome.LATE : Outcome.HANG);
    }
    return out;
  }

  static Step step(Random r) {
    int x = r.nextInt(100);
    int a = r.nextInt(8);
    int b = r.nextInt(2);
    boolean f = r.nextBoolean();
    String what = x < 32 ? "prepare" : x < 58 ? "cleanup" : x < 62 ? "restart" : x < 64 ? "reboot" : x < 70 ? "lose"
        : x < 73 ? "force-detach" : x < 78 ? "mount" : x < 82 ? "unmount" : x < 86 ? "release" : "wait";
    if (what.equals("lose") || what.equals("force-detach") || what.equals("mount") || what.equals("unmount")
        || what.equals("release")) {
      a = a % 3;
    }
    return new Step(what, a, b, f, faults(r));
  }

  static List<Step> steps(Random r) {
    List<Step> out = new ArrayList<>();
    for (int i = 0, n = 50 + r.nextInt(31); i < n; i++) {
      out.add(step(r));
    }
    return out;
  }

  static void run(List<Step> steps, long seed) {
    try (EngineWorld w = new EngineWorld(seed, sandboxes)) {
      for (Step s : steps) {
        s.apply(w);
      }
      w.drain();
    }
  }

  @Test
  void theEngineKeepsItsInvariants() {
    new SeededTries<Step>(REPLAY, EngineSimTest::steps, EngineSimTest::run).check(Integer.getInteger("dvdi.sim.engine-tries", 200));
  }
}
