package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13, hole 8: an intent's owner is judged alive only while its own process runs, not
 * while any process has its pid. A dvdi that ended leaves records owned by its pid; when the
 * kernel gives that pid to another process, those records must not stay "in flight" (every
 * step on the volume refused as busy, the reaper skipping it).
 */
class OwnerLivenessTest {
  @TempDir
  Path tmp;

  Dvdi dvdi;
  Process other;

  @BeforeEach
  void setUp() throws Exception {
    dvdi = new TestDvdi(tmp).open(Dvdi.WRITER_AGENT);
    other = new ProcessBuilder("sleep", "60").start();
  }

  @AfterEach
  void tearDown() {
    other.destroyForcibly();
    dvdi.close();
  }

  /** This engine's owner with another pid in it: what a record of a dead dvdi whose pid was reused looks like. */
  String withPidOf(long pid) {
    String mine = dvdi.manager().actor().owner();
    String[] o = mine.split(":", -1);
    o[1] = Long.toString(pid);
    return String.join(":", o);
  }

  @Test
  void aRecordOfAnEndedProcessWhosePidWasReusedIsNotAlive() {
    assertTrue(dvdi.manager().ownerAlive(dvdi.manager().actor().owner()), "this process runs");
    assertTrue(other.isAlive());
    assertFalse(dvdi.manager().ownerAlive(withPidOf(other.pid())),
        "pid " + other.pid() + " now belongs to another process, started at another time");
  }

  @Test
  void anOwnerOfAnEarlierVersionIsJudgedByPidAndBoot() {
    String mine = dvdi.manager().actor().owner();
    String[] o = mine.split(":");
    String legacy = o[0] + ":" + other.pid() + ":" + o[2];
    assertTrue(dvdi.manager().ownerAlive(legacy), "no start time recorded: the pid alone decides");
    assertFalse(dvdi.manager().ownerAlive(o[0] + ":" + other.pid() + ":another-boot"), "another boot is never alive");
  }
}
