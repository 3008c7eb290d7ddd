package org.dvdi.core.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
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
}
