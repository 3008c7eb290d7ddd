package org.dvdi.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.dvdi.core.TestDvdi;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 10: mounts that state lost (damage, an operator's rm) or that state a newer dvdi
 * wrote (refused, untouched) can still be seen and released from the CLI.
 */
@RequiresRoot
class CliStateLossRootTest {
  @TempDir
  Path tmp;

  TestDvdi t;

  CliRun cli(String... args) {
    return CliRun.of(t.settings, args);
  }

  @BeforeEach
  void setUp() throws Exception {
    t = new TestDvdi(tmp);
  }

  /** Whatever a failed test left: never leave mounts or loop devices behind. */
  @org.junit.jupiter.api.AfterEach
  void undoLeftovers() {
    org.dvdi.spi.host.Commands c = new org.dvdi.spi.host.Commands();
    org.dvdi.spi.CallContext ctx = org.dvdi.spi.CallContext.of(java.time.Duration.ofSeconds(10), "test cleanup", "test");
    for (KernelMounts.Mount mt : KernelMounts.read().under(tmp)) {
      c.run(List.of("umount", "-l", mt.mountPoint()), ctx);
      c.run(List.of("losetup", "-d", mt.source()), ctx);
    }
  }

  boolean attached() {
    return LeakCheck.loops().stream().anyMatch(l -> l.contains(t.pool.toString()));
  }

  @Test
  void finding10_unmountAndReleaseOfAMountStateLost() throws Exception {
    assertEquals(0, cli("mount", "loop/a").code());
    assertEquals(0, cli("mount", "loop/b").code());
    for (Path p : Files.list(t.stateDir).toList()) {
      Files.delete(p);
    }
    CliRun m = cli("mounts");
    assertEquals(0, m.code(), m.err());
    assertTrue(m.out().contains("untracked"), "mounts the state does not know are shown: " + m.out());
    CliRun u = cli("unmount", "loop/a");
    assertEquals(0, u.code(), u.out() + u.err());
    CliRun r = cli("release", "loop/b");
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(KernelMounts.read().under(t.mountRoot).isEmpty(), KernelMounts.read().under(t.mountRoot).toString());
    assertFalse(attached(), LeakCheck.loops().toString());
  }

  @Test
  void finding10_stateFromANewerDvdiStillLetsTheOperatorSeeAndRelease() throws Exception {
    assertEquals(0, cli("mount", "loop/n").code());
    Path journal = t.stateDir.resolve("state.journal");
    byte[] newer = Files.readAllBytes(journal);
    ByteBuffer.wrap(newer).putInt(8, ByteBuffer.wrap(newer).getInt(8) + 1);
    Files.write(journal, newer);
    byte[] snapshot = Files.readAllBytes(t.stateDir.resolve("state.snapshot"));

    CliRun m = cli("mounts");
    assertEquals(0, m.code(), m.err());
    assertTrue(m.out().contains("untracked") && m.out().contains(t.mountRoot.resolve("loop/n").toString()), m.out());
    assertTrue(m.err().contains("newer than this dvdi"), m.err());
    CliRun r = cli("release", "loop/n");
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(KernelMounts.read().under(t.mountRoot).isEmpty(), KernelMounts.read().under(t.mountRoot).toString());
    assertFalse(attached(), LeakCheck.loops().toString());
    assertArrayEquals(newer, Files.readAllBytes(journal), "state left untouched");
    assertArrayEquals(snapshot, Files.readAllBytes(t.stateDir.resolve("state.snapshot")), "state left untouched");
  }
}
