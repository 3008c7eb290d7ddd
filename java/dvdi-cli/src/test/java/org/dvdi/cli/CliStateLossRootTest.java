package org.dvdi.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.state.JournalBytes;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.JournalRecord;
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

  /** Whether a journal record changes volume {@code loop/<name>}. */
  static boolean changesVolume(JournalRecord r, String name) {
    return r.getChangesList().stream()
        .anyMatch(c -> c.getPutVolume().getName().equals(name) || c.getRemoveVolume().getName().equals(name));
  }

  /** Whether a journal record changes volume {@code loop/<name>} or the operator's mount of it. */
  static boolean changesOperatorMount(JournalRecord r, String name) {
    String cid = "operator:loop/" + name;
    return changesVolume(r, name)
        || r.getChangesList().stream().anyMatch(c -> c.getPutContainer().getId().equals(cid) || c.getRemoveContainer().equals(cid));
  }

  /**
   * Mounts loop/keep, whose records follow x's (so that the damage is not a torn tail), then
   * damages every journal record {@code lost} selects.
   */
  void mountKeepThenDamage(Predicate<JournalRecord> lost) throws Exception {
    assertEquals(0, cli("mount", "loop/keep").code(), "a mount whose records follow");
    assertTrue(JournalBytes.damage(t.stateDir.resolve("state.journal"), lost) > 0, "the records are in the journal");
  }

  /** {@code dvdi mount loop/x}, then {@link #mountKeepThenDamage}. */
  void mountXThenDamage(Predicate<JournalRecord> lost) throws Exception {
    assertEquals(0, cli("mount", "loop/x").code());
    mountKeepThenDamage(lost);
  }

  boolean attached(String name) {
    return LeakCheck.loops().stream().anyMatch(l -> l.endsWith(t.pool.resolve(name + ".img").toString()));
  }

  Path x() {
    return t.mountRoot.resolve("loop/x");
  }

  /** {@code dvdi verify}'s line about {@code subject} that says {@code what}, or null. */
  String verifyLine(String subject, String what) {
    CliRun v = cli("verify", "--no-provider");
    assertEquals(ExitCodes.DRIFT, v.code(), v.out() + v.err());
    return v.out().lines().filter(l -> l.startsWith(subject + " ") && l.contains(what)).findFirst().orElse(null);
  }

  /** {@code dvdi <args>} exits 0 and prints {@code out}. */
  void succeeds(String out, String... args) {
    CliRun r = cli(args);
    assertEquals(ExitCodes.OK, r.code(), r.out() + r.err());
    assertEquals(out, r.out());
  }

  /** {@code dvdi <args>} fails with an error that starts with {@code err}, and x stays mounted and attached. */
  void refused(String err, String... args) {
    CliRun r = cli(args);
    assertEquals(ExitCodes.ERROR, r.code(), r.out() + r.err());
    assertTrue(r.err().startsWith(err), r.err());
    assertTrue(KernelMounts.read().isMountPoint(x()) && attached("x"), "x is left mounted and attached");
  }

  /** Nothing of x is left, keep is still mounted; unmounting keep leaves nothing in state or the kernel. */
  void assertOnlyKeepLeftThenNothing() {
    assertTrue(KernelMounts.read().at(x()).isEmpty(), KernelMounts.read().under(t.mountRoot).toString());
    assertFalse(attached("x"), LeakCheck.loops().toString());
    assertTrue(attached("keep"), "only x was released");
    assertEquals(ExitCodes.OK, cli("unmount", "loop/keep").code());
    CliRun after = cli("verify", "--no-provider");
    assertEquals(ExitCodes.OK, after.code(), "nothing left in state or the kernel: " + after.out() + after.err());
    assertTrue(KernelMounts.read().under(t.mountRoot).isEmpty(), KernelMounts.read().under(t.mountRoot).toString());
    assertFalse(attached(), LeakCheck.loops().toString());
  }

  /**
   * Hole 10: an operator's mount whose journal records damage dropped is what {@code verify}
   * reports as untracked, naming {@code dvdi release}; {@code release} frees it through its
   * provider (unmounted, loop device detached), adopting it into state first.
   */
  @Test
  void hole10_releaseFreesAnOperatorMountWhoseJournalRecordsDamageDropped() throws Exception {
    mountXThenDamage(r -> changesOperatorMount(r, "x"));
    String line = verifyLine(x().toString(), "not in dvdi's state");
    assertTrue(line != null && line.contains("`dvdi release loop/x`"), "verify says what frees it: " + line);

    succeeds("released loop/x\n", "release", "loop/x");
    assertOnlyKeepLeftThenNothing();
  }

  /**
   * Hole 10: damage dropped the volume's records but not the operator's mount that holds it;
   * {@code dvdi unmount} drops the operator's mount and releases the volume (it said "still
   * used by containers" and left it mounted); {@code dvdi release} meanwhile refuses, as for a
   * volume an operator's mount holds, having adopted the volume into state first.
   */
  @Test
  void hole10_unmountReleasesAnOperatorMountWhoseVolumeRecordsDamageDropped() throws Exception {
    mountXThenDamage(r -> changesVolume(r, "x"));
    assertTrue(verifyLine(x().toString(), "not in dvdi's state") != null);

    refused("dvdi VOLUME_BUSY: volume loop/x is used by [operator:loop/x]", "release", "loop/x");
    assertTrue(verifyLine("loop/x", "adopted") != null, "adopted first");
    succeeds("unmounted and released loop/x\n", "unmount", "loop/x");
    assertOnlyKeepLeftThenNothing();
  }

  /**
   * Hole 10: a task's container that state still knows holds a volume whose records damage
   * dropped: {@code dvdi release} refuses (VOLUME_BUSY naming the container), as for a tracked
   * volume, and leaves it mounted, as does {@code dvdi unmount} (no operator's mount); {@code
   * --force} releases it.
   */
  @Test
  void hole10_releaseOfAnUntrackedMountAContainerHoldsIsRefused() throws Exception {
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      d.manager().prepare(t.request("task-1", Map.of("DVDI_VOLUME_NAME", "x"))).join();
    }
    mountKeepThenDamage(r -> changesVolume(r, "x"));
    assertTrue(verifyLine(x().toString(), "not in dvdi's state") != null);

    refused("dvdi VOLUME_BUSY: volume loop/x is used by [task-1]; use --force", "release", "loop/x");
    refused("dvdi VOLUME_NOT_FOUND: loop/x is not mounted by an operator", "unmount", "loop/x");
    succeeds("released loop/x\n", "release", "--force", "loop/x");
    assertOnlyKeepLeftThenNothing();
  }

  /**
   * Hole 10: an untracked mount a process still uses (its working directory: umount fails with
   * EBUSY) is not released: VOLUME_BUSY, still mounted and attached, and now in state as a
   * failed release; once the process is gone, {@code dvdi release} frees it.
   */
  @Test
  void hole10_releaseOfAnUntrackedMountStillInUseIsRefusedUntilItIsFree() throws Exception {
    mountXThenDamage(r -> changesOperatorMount(r, "x"));
    Process user = new ProcessBuilder("sleep", "600").directory(x().toFile()).start();
    try {
      refused("dvdi VOLUME_BUSY: cannot unmount " + x() + ": it is still in use", "release", "loop/x");
      assertTrue(verifyLine("loop/x", "release failed") != null, "state knows it now, as a release to retry");
    } finally {
      user.destroyForcibly().waitFor();
    }
    succeeds("released loop/x\n", "release", "loop/x");
    assertOnlyKeepLeftThenNothing();
  }

  /**
   * Hole 10: after the agent's recovery adopted an operator's mount whose records damage
   * dropped (pinned, held by nobody), {@code dvdi unmount} releases it as {@code dvdi release}
   * would.
   */
  @Test
  void hole10_unmountReleasesAMountRecoveryAdopted() throws Exception {
    mountXThenDamage(r -> changesOperatorMount(r, "x"));
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      assertEquals(List.of(new VolumeKey("loop", "x")), d.manager().recover(Set.of(), Set.of()).join().adoptedVolumes());
    }
    succeeds("unmounted and released loop/x\n", "unmount", "loop/x");
    assertOnlyKeepLeftThenNothing();
  }
}
