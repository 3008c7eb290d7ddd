package org.dvdi.core.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.dvdi.core.seams.SimDisk;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The durable state: journal, snapshot, crashes in the middle of writes, damage, other writers. */
class StateStoreTest {
  static final Duration T = Duration.ofSeconds(5);

  @TempDir
  Path dir;

  static Volume vol(String name) {
    return Volume.newBuilder().setDriver("loop").setName(name).setStatus(VolumeStatus.MOUNTED)
        .setHostPath("/mnt/" + name).setBootId("b").build();
  }

  static Container ctr(String id, String vol) {
    return Container.newBuilder().setId(id).setStatus(ContainerStatus.READY)
        .addUses(VolumeUse.newBuilder().setDriver("loop").setName(vol).setAcquired(true)).build();
  }

  static void put(StateStore s, String name) {
    s.mutate((v, ch) -> {
      ch.putVolume(vol(name)).putContainer(ctr("c-" + name, name));
      return null;
    });
  }

  @Test
  void changesSurviveReopening() {
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      put(s, "a");
      put(s, "b");
      s.mutate((v, ch) -> {
        ch.removeVolume(new VolumeKey("loop", "a")).removeContainer("c-a");
        return null;
      });
    }
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertEquals(List.of(new VolumeKey("loop", "b")), List.copyOf(s.view().volumes().keySet()));
      assertEquals(List.of("c-b"), s.view().users(new VolumeKey("loop", "b")));
      assertTrue(s.repairs().isEmpty(), s.repairs().toString());
    }
  }

  @Test
  void compactionKeepsEverything() {
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      for (int i = 0; i < StateStore.COMPACT_RECORDS * 2 + 7; i++) {
        put(s, "v" + (i % 50));
      }
    }
    StateStore.ReadResult r = StateStore.read(dir, T);
    assertEquals(50, r.view().volumes().size());
    assertTrue(r.problems().isEmpty());
  }

  @Test
  void aTornJournalTailIsDroppedAndLaterWritesStayReadable() throws Exception {
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      put(s, "a");
      put(s, "b");
    }
    Path j = dir.resolve(StateFiles.JOURNAL);
    long size = Files.size(j);
    try (RandomAccessFile f = new RandomAccessFile(j.toFile(), "rw")) {
      f.setLength(size - 3); // the crash cut the last record short
    }
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertTrue(s.view().volumes().containsKey(new VolumeKey("loop", "a")));
      assertFalse(s.view().volumes().containsKey(new VolumeKey("loop", "b")), "the torn record was never acted on");
      assertTrue(s.repairs().stream().anyMatch(p -> p.contains("cut short")), s.repairs().toString());
      put(s, "c");
    }
    StateStore.ReadResult r = StateStore.read(dir, T);
    assertEquals(2, r.view().volumes().size(), "a and c: the write after the repair is readable");
    assertTrue(r.problems().isEmpty(), "the repair rewrote the files: " + r.problems());
  }

  @Test
  void aDamagedSnapshotIsMovedAsideAndTheJournalStillApplies() throws Exception {
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      for (int i = 0; i < StateStore.COMPACT_RECORDS + 1; i++) {
        put(s, "old" + (i % 3)); // forces a snapshot with old0..old2
      }
      put(s, "new");
    }
    Path snap = dir.resolve(StateFiles.SNAPSHOT);
    byte[] b = Files.readAllBytes(snap);
    b[b.length - 5] ^= 0x55;
    Files.write(snap, b);
    StateStore.ReadResult before = StateStore.read(dir, T);
    assertTrue(before.problems().stream().anyMatch(p -> p.contains("checksum")), before.problems().toString());
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertTrue(s.view().volumes().containsKey(new VolumeKey("loop", "new")), "journal records after the snapshot apply");
      assertTrue(s.repairs().stream().anyMatch(p -> p.contains("moved damaged")), s.repairs().toString());
      try (var files = Files.list(dir)) {
        assertTrue(files.anyMatch(p -> p.getFileName().toString().startsWith("state.snapshot.damaged-")), "kept for forensics");
      }
    }
  }

  @Test
  void garbageFilesAreReportedNotFatal() throws Exception {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(StateFiles.SNAPSHOT), "hello");
    Files.writeString(dir.resolve(StateFiles.JOURNAL), "");
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertTrue(s.view().volumes().isEmpty());
      assertEquals(4, s.repairs().size(), s.repairs().toString());
      put(s, "after");
    }
    assertTrue(StateStore.read(dir, T).problems().isEmpty());
  }

  @Test
  void stateFromANewerDvdiIsRefusedUntouched() throws Exception {
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      put(s, "a");
    }
    Path j = dir.resolve(StateFiles.JOURNAL);
    byte[] b = Files.readAllBytes(j);
    ByteBuffer.wrap(b).putInt(8, StateFiles.FORMAT_VERSION + 1);
    Files.write(j, b);
    DvdiException e = assertThrows(DvdiException.class, () -> StateStore.open(dir, "agent", T));
    assertEquals(ErrorCode.INTERNAL, e.getCode());
    assertTrue(e.getMessage().contains("newer than this dvdi"), e.getMessage());
    assertEquals(b.length, Files.size(j), "not changed");
  }

  @Test
  void anotherWritersChangesAreSeenBeforeTheNextDecision() {
    try (StateStore agent = StateStore.open(dir, "agent", T); StateStore cli = StateStore.open(dir, "cli", T)) {
      put(agent, "a");
      assertTrue(cli.freshView().volumes().containsKey(new VolumeKey("loop", "a")));
      cli.mutate((v, ch) -> {
        ch.removeVolume(new VolumeKey("loop", "a"));
        return null;
      });
      boolean seen = agent.mutate((v, ch) -> v.volume(new VolumeKey("loop", "a")) == null);
      assertTrue(seen, "the agent decides on the table as the CLI left it");
      put(agent, "b");
      assertEquals(1, cli.freshView().volumes().size());
    }
  }

  @Test
  void readersSeeWholeRecordsWhileAWriterWrites() throws Exception {
    ExecutorService ex = Executors.newSingleThreadExecutor();
    AtomicBoolean stop = new AtomicBoolean();
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      Future<?> w = ex.submit(() -> {
        for (int i = 0; !stop.get() && i < 2000; i++) {
          put(s, "v" + i);
          s.mutate((v, ch) -> {
            ch.removeVolume(new VolumeKey("loop", "v" + (Integer.parseInt("0") + 0))); // churn
            return null;
          });
        }
      });
      for (int i = 0; i < 200; i++) {
        StateStore.ReadResult r = StateStore.read(dir, T);
        assertTrue(r.problems().isEmpty(), r.problems().toString());
        for (Container c : r.view().containers().values()) {
          assertEquals(1, c.getUsesCount(), "each record is applied whole");
        }
      }
      stop.set(true);
      w.get();
    } finally {
      ex.shutdownNow();
    }
  }
  // ---- finding 9: damage in the middle of the journal is damage, not a torn tail ----

  /** The sequence number of record {@code i} of an undamaged journal. */
  static long sequence(byte[] journal, List<Integer> starts, int i) throws Exception {
    return JournalBytes.record(journal, starts, i).getSequence();
  }

  /** Writes {@code n} records, record i putting volume "v<i>" (and its container); returns the journal. */
  byte[] journalOf(Path d, int n) throws Exception {
    try (StateStore s = StateStore.open(d, "agent", T)) {
      for (int i = 0; i < n; i++) {
        put(s, "v" + i);
      }
    }
    return Files.readAllBytes(d.resolve(StateFiles.JOURNAL));
  }

  /** Index of the record whose bytes contain {@code offset}, or -1 (the header). */
  static int recordAt(List<Integer> starts, int offset) {
    for (int i = 0; i + 1 < starts.size(); i++) {
      if (offset >= starts.get(i) && offset < starts.get(i + 1)) {
        return i;
      }
    }
    return -1;
  }

  static Set<String> names(StateView v) {
    Set<String> out = new TreeSet<>();
    v.volumes().keySet().forEach(k -> out.add(k.name()));
    return out;
  }

  static Set<String> allBut(int n, Set<Integer> lost) {
    Set<String> out = new TreeSet<>();
    for (int i = 0; i < n; i++) {
      if (!lost.contains(i)) {
        out.add("v" + i);
      }
    }
    return out;
  }

  static List<Path> damagedCopies(Path d, String file) throws Exception {
    try (var files = Files.list(d)) {
      return files.filter(p -> p.getFileName().toString().startsWith(file + ".damaged-")).sorted().toList();
    }
  }

  @Test
  void finding9_aFlippedByteInTheMiddleLosesOnlyItsRecordAndTheFileIsKeptAside() throws Exception {
    int n = 20;
    byte[] good = journalOf(dir, n);
    List<Integer> starts = JournalBytes.recordStarts(good);
    int flip = good.length / 2;
    int k = recordAt(starts, flip);
    assertTrue(k > 0 && k < n - 1, "the flipped byte is in a record in the middle");
    byte[] bad = good.clone();
    bad[flip] ^= 0x5A;
    Path j = dir.resolve(StateFiles.JOURNAL);
    Files.write(j, bad);

    StateStore.ReadResult r = StateStore.read(dir, T);
    assertEquals(allBut(n, Set.of(k)), names(r.view()), "the CLI's read-only view keeps every record that reads");
    assertTrue(r.problems().stream().anyMatch(p -> p.contains("damaged")), r.problems().toString());
    assertTrue(r.damaged());
    assertArrayEquals(bad, Files.readAllBytes(j), "a read changes nothing");

    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertEquals(allBut(n, Set.of(k)), names(s.view()), "every record after the damaged one is still there");
      long seq = sequence(good, starts, k);
      String expected = "state journal damaged at byte " + starts.get(k) + ": record(s) with sequence " + seq + ".." + seq
          + " lost";
      assertTrue(s.repairs().stream().anyMatch(p -> p.startsWith(expected) && p.contains((n - 1 - k) + " later records kept")),
          s.repairs().toString());
      assertFalse(s.repairs().stream().anyMatch(p -> p.contains("cut short by a crash")), s.repairs().toString());
      assertTrue(s.damaged(), "the engine can tell that acknowledged records are missing");
      List<Path> copies = damagedCopies(dir, StateFiles.JOURNAL);
      assertEquals(1, copies.size(), "the damaged journal is kept aside");
      assertArrayEquals(bad, Files.readAllBytes(copies.get(0)), "byte for byte, before compaction rewrote it");
      assertTrue(s.repairs().stream().anyMatch(p -> p.contains(copies.get(0).toString())), "the report says where");
      put(s, "after");
    }
    StateStore.ReadResult after = StateStore.read(dir, T);
    assertTrue(after.problems().isEmpty(), "compaction rewrote the journal: " + after.problems());
    assertEquals(n, after.view().volumes().size(), "the n-1 kept and the one written after the repair");
  }

  /**
   * Cuts bytes {@code [from, to)} out of a journal of {@code n} records, opens it, and checks
   * that records {@code first..last} (and only they) are lost, reported by their sequence
   * numbers with {@code cause}, and that the damaged file is kept aside.
   */
  void cutAndCheck(byte[] good, int n, int from, int to, int first, int last, String cause) throws Exception {
    List<Integer> starts = JournalBytes.recordStarts(good);
    byte[] bad = new byte[good.length - (to - from)];
    System.arraycopy(good, 0, bad, 0, from);
    System.arraycopy(good, to, bad, from, good.length - to);
    Files.write(dir.resolve(StateFiles.JOURNAL), bad);
    Set<Integer> lost = new TreeSet<>();
    for (int i = first; i <= last; i++) {
      lost.add(i);
    }
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertEquals(allBut(n, lost), names(s.view()), "the records after the cut are found again");
      String expected = "state journal damaged at byte " + starts.get(first) + ": record(s) with sequence "
          + sequence(good, starts, first) + ".." + sequence(good, starts, last) + " lost";
      assertTrue(s.repairs().stream().anyMatch(p -> p.startsWith(expected) && p.contains(cause)
          && p.contains((n - 1 - last) + " later records kept")), s.repairs().toString());
      assertFalse(s.repairs().stream().anyMatch(p -> p.contains("cut short by a crash")), s.repairs().toString());
      assertTrue(s.damaged());
      assertEquals(1, damagedCopies(dir, StateFiles.JOURNAL).size());
    }
  }

  @Test
  void finding9_bytesCutOutOfTheMiddleLoseThoseRecordsForGoodAndKeepTheRest() throws Exception {
    int n = 20;
    byte[] good = journalOf(dir, n);
    List<Integer> starts = JournalBytes.recordStarts(good);
    int k = n / 2;
    // from inside record k's header to inside record k+2's payload
    cutAndCheck(good, n, starts.get(k) + 3, starts.get(k + 2) + 11, k, k + 2, "bytes are missing, cut out of the file");
  }

  @Test
  void finding9_wholeRecordsCutOutOfTheMiddleAreReportedLostByTheirSequence() throws Exception {
    int n = 10;
    byte[] good = journalOf(dir, n);
    List<Integer> starts = JournalBytes.recordStarts(good);
    // records 4 and 5 removed exactly: every remaining record reads, only the sequence numbers tell
    cutAndCheck(good, n, starts.get(4), starts.get(6), 4, 5, "whole records are missing");
  }

  @Test
  void finding9_aCutOrDamagedLastRecordIsStillATornTail() throws Exception {
    int n = 6;
    byte[] good = journalOf(dir, n);
    List<Integer> starts = JournalBytes.recordStarts(good);
    int last = starts.get(n - 1);
    Path j = dir.resolve(StateFiles.JOURNAL);
    Path snap = dir.resolve(StateFiles.SNAPSHOT);
    byte[] snapshot = Files.readAllBytes(snap);
    byte[] flipped = good.clone();
    flipped[good.length - 2] ^= 0x01; // complete but failing its checksum, nothing after it
    byte[] cut = Arrays.copyOf(good, last + StateFiles.RECORD_HEADER + (good.length - last - StateFiles.RECORD_HEADER) / 2);
    byte[] zeros = Arrays.copyOf(good, good.length + 64); // the file grew, the data never reached the disk
    for (byte[] bad : List.of(cut, flipped, zeros)) {
      Files.write(j, bad);
      try (StateStore s = StateStore.open(dir, "agent", T)) {
        Set<String> expected = allBut(n, bad == zeros ? Set.of() : Set.of(n - 1));
        assertEquals(expected, names(s.view()));
        assertEquals(1, s.repairs().size(), s.repairs().toString());
        assertTrue(s.repairs().get(0).startsWith("state journal ended in ")
            && s.repairs().get(0).endsWith("(a write cut short by a crash; it was never acted on)"), s.repairs().toString());
        assertTrue(damagedCopies(dir, StateFiles.JOURNAL).isEmpty(), "a torn tail is not damage");
        assertFalse(s.damaged());
      }
      Files.write(j, good);
      Files.write(snap, snapshot);
    }
  }

  @Test
  void finding9_anySingleFlippedByteLosesAtMostTheRecordHoldingIt() throws Exception {
    int n = 50;
    Path src = dir.resolve("src");
    byte[] good = journalOf(src, n);
    byte[] snapshot = Files.readAllBytes(src.resolve(StateFiles.SNAPSHOT));
    List<Integer> starts = JournalBytes.recordStarts(good);
    Path reads = dir.resolve("reads");
    Files.createDirectories(reads);
    Files.write(reads.resolve(StateFiles.SNAPSHOT), snapshot);
    int opened = 0;
    for (int off = 0; off < good.length; off++) {
      byte[] bad = good.clone();
      bad[off] ^= (byte) (0x80 >>> (off % 8) | (off % 3 == 0 ? 0x0F : 0));
      int k = recordAt(starts, off);
      Set<String> expected = allBut(n, k < 0 ? Set.of() : Set.of(k));
      String where = "byte " + off + " (record " + k + ")";
      boolean version = off >= 8 && off < 12;
      Files.write(reads.resolve(StateFiles.JOURNAL), bad);
      StateStore.ReadResult r = StateStore.read(reads, T);
      if (r.refused()) { // the format field is not checksummed: damage there may read as a newer format
        assertTrue(version, where + ": " + r.problems());
        assertTrue(r.view().volumes().isEmpty(), where);
      } else {
        assertEquals(expected, names(r.view()), where);
        assertEquals(k >= 0 && k < n - 1 || off < StateFiles.JOURNAL_HEADER, r.damaged(), where + ": " + r.problems());
      }
      if (off % 17 == 0 && !version) { // the writing path too, on a sample (each open compacts: fsyncs)
        Path d = dir.resolve("open" + off);
        Files.createDirectories(d);
        Files.write(d.resolve(StateFiles.SNAPSHOT), snapshot);
        Files.write(d.resolve(StateFiles.JOURNAL), bad);
        try (StateStore s = StateStore.open(d, "agent", T)) {
          assertEquals(expected, names(s.view()), where);
        }
        opened++;
      }
    }
    assertTrue(opened > 100, "opened " + opened + " of " + good.length + " offsets");
  }

  @Test
  void finding9_aDamagedSnapshotStaysKeptAsideByteForByte() throws Exception {
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      for (int i = 0; i < StateStore.COMPACT_RECORDS; i++) {
        put(s, "old" + (i % 3)); // the 512th record compacts: the snapshot holds old0..old2
      }
      put(s, "new");
    }
    Path snap = dir.resolve(StateFiles.SNAPSHOT);
    byte[] b = Files.readAllBytes(snap);
    b[b.length / 2] ^= 0x01;
    Files.write(snap, b);
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertEquals(Set.of("new"), names(s.view()), "what the damaged snapshot held is left to the kernel's mount table");
      assertTrue(s.repairs().stream().anyMatch(p -> p.startsWith("state snapshot damaged")), s.repairs().toString());
      assertTrue(s.damaged());
      List<Path> copies = damagedCopies(dir, StateFiles.SNAPSHOT);
      assertEquals(1, copies.size());
      assertArrayEquals(b, Files.readAllBytes(copies.get(0)));
    }
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      assertTrue(s.repairs().isEmpty(), s.repairs().toString());
      assertFalse(s.damaged(), "the files were rewritten whole");
      assertEquals(1, damagedCopies(dir, StateFiles.SNAPSHOT).size(), "still there, not replaced");
    }
  }

  // ---- finding 10: state from a newer dvdi still lets the CLI see the kernel's mounts ----

  @Test
  void finding10_stateFromANewerDvdiReadsAsARefusalTheCliCanShow() throws Exception {
    try (StateStore s = StateStore.open(dir, "agent", T)) {
      put(s, "a");
    }
    for (String file : List.of(StateFiles.JOURNAL, StateFiles.SNAPSHOT)) {
      Path p = dir.resolve(file);
      byte[] original = Files.readAllBytes(p);
      byte[] newer = original.clone();
      ByteBuffer.wrap(newer).putInt(8, StateFiles.FORMAT_VERSION + 1);
      Files.write(p, newer);
      StateStore.ReadResult r = StateStore.read(dir, T);
      assertTrue(r.view().volumes().isEmpty() && r.view().containers().isEmpty(), file);
      assertTrue(r.exists() && r.refused(), file);
      assertEquals(StateFiles.FORMAT_VERSION + 1, r.newerFormat());
      assertEquals(1, r.problems().size(), r.problems().toString());
      assertTrue(r.problems().get(0).contains("state format " + (StateFiles.FORMAT_VERSION + 1) + ", newer than this dvdi"),
          r.problems().toString());
      assertArrayEquals(newer, Files.readAllBytes(p), "not changed");
      DvdiException e = assertThrows(DvdiException.class, () -> StateStore.open(dir, "agent", T));
      assertTrue(e.getMessage().contains("newer than this dvdi"), e.getMessage());
      assertArrayEquals(newer, Files.readAllBytes(p), "the writing path still refuses it, untouched");
      Files.write(p, original);
    }
  }

  static final VolumeKey A = new VolumeKey("loop", "a");
  static final VolumeKey B = new VolumeKey("loop", "b");
  static final VolumeKey C = new VolumeKey("loop", "c");

  /** A state directory on a simulated disk. */
  static final Path SIM = Path.of("/sim/state");

  @Test
  void hole11a_aChangeWhoseFdatasyncFailedIsReportedFailedAndNeverReplays() throws Exception {
    SimDisk disk = new SimDisk();
    Path j = SIM.resolve(StateFiles.JOURNAL);
    DvdiException e;
    try (StateStore s = StateStore.open(SIM, "agent", T, disk)) {
      put(s, "a");
      long before = disk.id(j).size();
      disk.failNext(SimDisk.Op.SYNC);
      e = assertThrows(DvdiException.class, () -> put(s, "b"));
      assertEquals(ErrorCode.INTERNAL, e.getCode());
      assertFalse(s.view().volumes().containsKey(B));
      assertFalse(s.freshView().volumes().containsKey(B), "not even after a re-read");
      assertEquals(before, disk.id(j).size(), "the record is cut off the journal again");
      put(s, "c");
    }
    try (StateStore s = StateStore.open(SIM, "agent", T, disk)) {
      assertEquals(Set.of(A, C), s.view().volumes().keySet(), "the change reported as failed never takes effect");
      assertTrue(s.repairs().isEmpty(), s.repairs().toString());
    }
    assertTrue(e.getMessage().contains(j.toString()) && e.getMessage().contains("injected fdatasync failure")
        && e.getMessage().contains("not made"), e.getMessage());
    for (int seed = 0; seed < 20; seed++) {
      SimDisk crashed = disk.copy();
      crashed.crash(new Random(seed));
      try (StateStore s = StateStore.open(SIM, "agent", T, crashed)) {
        assertEquals(Set.of(A, C), s.view().volumes().keySet(), "nor after a crash (seed " + seed + ")");
      }
    }
  }

  @Test
  void hole11a_whenTheJournalCannotBeCutBackTheStoreRefusesEveryChangeAfter() throws Exception {
    SimDisk disk = new SimDisk();
    try (StateStore s = StateStore.open(SIM, "agent", T, disk)) {
      put(s, "a");
      disk.failNext(SimDisk.Op.SYNC).failNext(SimDisk.Op.TRUNCATE);
      DvdiException e = assertThrows(DvdiException.class, () -> put(s, "b"));
      assertEquals(ErrorCode.INTERNAL, e.getCode());
      // The disk works again, but whether "b" is in the journal is unknown: nothing more is decided on it.
      long steps = disk.steps();
      DvdiException after = assertThrows(DvdiException.class, () -> put(s, "c"));
      assertEquals(ErrorCode.INTERNAL, after.getCode());
      assertThrows(DvdiException.class, s::freshView, "no decision on a table re-read from that journal either");
      assertEquals(steps, disk.steps(), "nothing more was written (nor synced)");
      assertEquals(Set.of(A), s.view().volumes().keySet(), "what this process acknowledged");
      assertTrue(e.getMessage().contains("injected fdatasync failure") && e.getMessage().contains("injected truncate failure")
          && e.getMessage().contains("refuses"), e.getMessage());
      assertTrue(after.getMessage().contains("refuses") && after.getMessage().contains("restart"), after.getMessage());
    }
    try (StateStore s = StateStore.open(SIM, "agent", T, disk)) {
      // As after a crash at that moment: the record is there whole (it was written) and is read.
      assertTrue(s.view().volumes().containsKey(A));
      assertTrue(s.view().volumes().containsKey(B), "the page cache still has the record");
      assertFalse(s.view().volumes().containsKey(C));
      put(s, "c");
    }
  }
}
