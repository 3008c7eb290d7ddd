package org.dvdi.core.seams;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.host.FileLocks;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What the simulated disk keeps at a crash, and how it fails. */
class SimDiskTest {
  static final Path DIR = Path.of("/sim/d");
  static final Path F = DIR.resolve("f");
  static final byte[] OLD = bytes("old content");
  static final byte[] MORE = bytes("0123456789abcdefghijklmnopqrstuvwxyz");

  SimDisk disk;

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  @BeforeEach
  void setUp() throws IOException {
    disk = new SimDisk();
    disk.createPrivateDirectories(DIR);
    disk.replace(F, OLD);
  }

  void append(byte[] b, boolean sync) throws IOException {
    try (Disk.OpenFile f = disk.open(F)) {
      f.write(disk.id(F).size(), ByteBuffer.wrap(b));
      if (sync) {
        f.sync();
      }
    }
  }

  @Test
  void anUnsyncedWriteIsSeenAtOnceAndLostAtACrash() throws IOException {
    append(MORE, false);
    assertArrayEquals(concat(OLD, MORE), disk.readAll(F), "readers see it, as from the page cache");
    disk.crash();
    assertArrayEquals(OLD, disk.readAll(F));
  }

  @Test
  void aSyncedWriteSurvivesEveryCrash() throws IOException {
    append(MORE, true);
    for (int seed = 0; seed < 50; seed++) {
      SimDisk d = disk.copy();
      d.crash(new Random(seed));
      assertArrayEquals(concat(OLD, MORE), d.readAll(F), "seed " + seed);
    }
  }

  @Test
  void aCrashKeepsNoneAllOrATornPrefixOfTheLastUnsyncedWrite() throws IOException {
    append(MORE, false);
    Set<Integer> kept = new HashSet<>();
    for (int seed = 0; seed < 200; seed++) {
      SimDisk d = disk.copy();
      d.crash(new Random(seed));
      byte[] after = d.readAll(F);
      int n = after.length - OLD.length;
      assertTrue(n >= 0 && n <= MORE.length, "seed " + seed + ": " + after.length + " bytes");
      assertArrayEquals(concat(OLD, Arrays.copyOf(MORE, n)), after, "a prefix, never other bytes (seed " + seed + ")");
      kept.add(n == 0 ? 0 : n == MORE.length ? 2 : 1);
      SimDisk again = disk.copy();
      again.crash(new Random(seed));
      assertArrayEquals(after, again.readAll(F), "the same seed, the same crash");
    }
    assertEquals(Set.of(0, 1, 2), kept, "none, torn and whole all happen");
    assertEquals(concat(OLD, MORE).length, disk.readAll(F).length, "a copy's crash leaves the original alone");
  }

  @Test
  void aRenameIsLostAtACrashUntilItsDirectoryIsSynced() throws IOException {
    Path g = DIR.resolve("g");
    disk.move(F, g);
    assertFalse(disk.exists(F));
    assertArrayEquals(OLD, disk.readAll(g));
    disk.crash();
    assertTrue(disk.exists(F) && !disk.exists(g), "the rename was never made durable");
    disk.move(F, g);
    disk.replace(DIR.resolve("other"), MORE); // syncs the directory
    disk.crash();
    assertTrue(!disk.exists(F) && disk.exists(g));
    assertArrayEquals(OLD, disk.readAll(g));
  }

  @Test
  void aReplaceIsTheOldFileOrTheNewWholeAtACrashAfterAnyStep() throws IOException {
    long before = disk.steps();
    disk.replace(F, MORE);
    long steps = disk.steps() - before;
    assertEquals(5, steps, "create, write, fdatasync of the temporary file, rename, directory fsync");
    Set<String> seen = new HashSet<>();
    for (long cut = 0; cut <= steps; cut++) {
      for (int seed = 0; seed < 20; seed++) {
        SimDisk d = new SimDisk();
        d.createPrivateDirectories(DIR);
        d.replace(F, OLD);
        d.cutPowerAfter(cut);
        try {
          d.replace(F, MORE);
          assertEquals(steps, cut, "only the last cut lets it finish");
        } catch (SimDisk.PowerCut expected) {
          assertThrows(SimDisk.PowerCut.class, () -> d.readAll(F), "a dead process does nothing more");
        }
        d.crash(new Random(seed));
        byte[] after = d.readAll(F);
        assertTrue(Arrays.equals(after, OLD) || Arrays.equals(after, MORE),
            "cut " + cut + " seed " + seed + ": " + new String(after, StandardCharsets.UTF_8));
        if (cut == steps) {
          assertArrayEquals(MORE, after, "a replace that returned is durable");
        }
        seen.add(new String(after, StandardCharsets.UTF_8));
      }
    }
    assertEquals(2, seen.size(), "both outcomes happen");
  }

  @Test
  void aFailedFdatasyncThrowsAndLeavesTheWriteUnsynced() throws IOException {
    disk.failNext(SimDisk.Op.SYNC);
    IOException e = assertThrows(IOException.class, () -> append(MORE, true));
    assertTrue(e.getMessage().contains("injected fdatasync failure") && e.getMessage().contains(F.toString()),
        e.getMessage());
    assertArrayEquals(concat(OLD, MORE), disk.readAll(F));
    append(new byte[0], true); // the next one works, and makes the write durable
    disk.crash();
    assertArrayEquals(concat(OLD, MORE), disk.readAll(F));
    disk.failNext(SimDisk.Op.SYNC);
    assertThrows(IOException.class, () -> append(MORE, true));
    disk.crash();
    assertArrayEquals(concat(OLD, MORE), disk.readAll(F), "never synced: gone");
  }

  @Test
  void aFailedWriteWritesHalfAFailedTruncateNothing() throws IOException {
    disk.failNext(SimDisk.Op.WRITE);
    assertThrows(IOException.class, () -> append(MORE, false));
    assertArrayEquals(concat(OLD, Arrays.copyOf(MORE, MORE.length / 2)), disk.readAll(F));
    disk.failNext(SimDisk.Op.TRUNCATE);
    try (Disk.OpenFile f = disk.open(F)) {
      IOException e = assertThrows(IOException.class, () -> f.truncate(OLD.length));
      assertTrue(e.getMessage().contains("injected truncate failure"), e.getMessage());
      assertEquals(OLD.length + MORE.length / 2, disk.id(F).size());
      f.truncate(OLD.length);
    }
    assertArrayEquals(OLD, disk.readAll(F));
    assertEquals(2, disk.calls(SimDisk.Op.TRUNCATE));
  }

  @Test
  void aFailedReplaceLeavesTheOldFile() throws IOException {
    for (SimDisk.Op op : new SimDisk.Op[] {SimDisk.Op.CREATE, SimDisk.Op.WRITE, SimDisk.Op.SYNC, SimDisk.Op.RENAME}) {
      disk.failNext(op);
      assertThrows(IOException.class, () -> disk.replace(F, MORE), op.toString());
      assertArrayEquals(OLD, disk.readAll(F), op.toString());
    }
    disk.failNext(SimDisk.Op.SYNC_DIR);
    assertThrows(IOException.class, () -> disk.replace(F, MORE));
    assertArrayEquals(MORE, disk.readAll(F), "renamed, not durable");
    disk.crash();
    assertArrayEquals(OLD, disk.readAll(F));
  }

  @Test
  void filesHaveIdentitiesAndAbsentOnesSaySo() throws IOException {
    Object before = disk.id(F).key();
    append(MORE, true);
    assertEquals(before, disk.id(F).key(), "the same file, grown");
    disk.replace(F, OLD);
    assertNotEquals(before, disk.id(F).key(), "a new file under the old name");
    assertThrows(NoSuchFileException.class, () -> disk.readAll(DIR.resolve("none")));
    assertThrows(NoSuchFileException.class, () -> disk.id(DIR.resolve("none")));
    assertThrows(NoSuchFileException.class, () -> disk.move(DIR.resolve("none"), DIR.resolve("x")));
    assertThrows(NoSuchFileException.class, () -> disk.replace(Path.of("/elsewhere/f"), OLD));
    assertTrue(disk.isDirectory(DIR) && disk.isDirectory(DIR.getParent()) && !disk.isDirectory(F));
  }

  @Test
  void aCopyIsDurableAndNeverReplaces() throws IOException {
    Path c = DIR.resolve("f.copy");
    disk.copy(F, c);
    assertThrows(FileAlreadyExistsException.class, () -> disk.copy(F, c));
    append(MORE, true);
    disk.crash(new Random(1));
    assertArrayEquals(OLD, disk.readAll(c));
  }

  @Test
  void aConflictingLockFailsAtOnceWithTheRealTimeoutError() {
    Path l = DIR.resolve("lock");
    Duration t = Duration.ofSeconds(30);
    long start = System.nanoTime();
    try (Disk.Lock a = disk.lock(l, true, t, "the test lock"); Disk.Lock b = disk.lock(l, true, t, "the test lock")) {
      DvdiException e = assertThrows(DvdiException.class, () -> disk.lock(l, false, t, "the test lock"));
      assertEquals(ErrorCode.TIMEOUT, e.getCode());
      assertEquals(FileLocks.heldByAnotherProcess(l, "the test lock", t).getMessage(), e.getMessage());
    }
    try (Disk.Lock a = disk.lock(l, false, t, "the test lock")) {
      assertThrows(DvdiException.class, () -> disk.lock(l, true, t, "the test lock"));
      assertThrows(DvdiException.class, () -> disk.lock(l, false, t, "the test lock"));
      a.close();
      a.close(); // twice releases once
      disk.lock(l, false, t, "the test lock").close();
    }
    assertTrue(System.nanoTime() - start < t.toNanos(), "nothing waited");
    Disk.Lock held = disk.lock(l, false, t, "the test lock");
    disk.crash();
    disk.lock(l, false, t, "the test lock").close();
    held.close(); // a lock from before the crash: gone with it
  }

  @Test
  void afterAPowerCutNothingReachesTheDiskUntilTheCrash() throws IOException {
    Disk.OpenFile f = disk.open(F);
    disk.cutPowerAfter(1);
    f.write(OLD.length, ByteBuffer.wrap(MORE));
    assertThrows(SimDisk.PowerCut.class, f::sync);
    assertThrows(SimDisk.PowerCut.class, () -> disk.exists(F));
    disk.crash();
    assertArrayEquals(OLD, disk.readAll(F));
    assertThrows(SimDisk.PowerCut.class, () -> f.write(0, ByteBuffer.wrap(MORE)), "an open file from before");
    append(MORE, true);
    assertArrayEquals(concat(OLD, MORE), disk.readAll(F));
  }
}
