package org.dvdi.core.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.dvdi.core.seams.SimDisk;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.Test;

/**
 * The real state store on the simulated disk: crashes after any step of a change (and of the
 * repair after one), faults at any step, two writers on one disk. A model table (the changes
 * applied in memory) says what the store must hold; each failing try prints its seed, step and
 * cut.
 */
class StateStoreSimTest {
  static final Path DIR = Path.of("/sim/state");
  static final Duration T = Duration.ofSeconds(5);
  /** Enough changes for one compaction on the way. */
  static final int CHANGES = StateStore.COMPACT_RECORDS + 40;

  /**
   * Change {@code i} of try {@code seed}: one to three puts or removes of volumes (with their
   * containers), decided on the current table; the same table gives the same changes.
   */
  static Mutation<Void> change(long seed, int i) {
    return (view, ch) -> {
      Random r = new Random(seed * 1_000_003L + i);
      int n = 1 + r.nextInt(3);
      for (int k = 0; k < n; k++) {
        String name = "v" + r.nextInt(12);
        VolumeKey key = new VolumeKey("loop", name);
        if (view.volume(key) != null && r.nextInt(3) == 0) {
          ch.removeVolume(key).removeContainer("c-" + name);
        } else {
          ch.putVolume(Volume.newBuilder().setDriver("loop").setName(name).setStatus(VolumeStatus.MOUNTED)
              .setHostPath("/mnt/" + name + "/" + i).setBootId("b").build());
          ch.putContainer(Container.newBuilder().setId("c-" + name).setStatus(ContainerStatus.READY)
              .addUses(VolumeUse.newBuilder().setDriver("loop").setName(name).setAcquired(true)).build());
        }
      }
      return null;
    };
  }

  /** The table after {@code m} is decided on {@code before}. */
  static StateView applied(StateView before, Mutation<?> m) {
    StateView t = StateView.mutableEmpty();
    t.volumes().putAll(before.volumes());
    t.containers().putAll(before.containers());
    Changes c = new Changes();
    m.apply(t.readOnly(), c);
    c.list().forEach(t::apply);
    return t.copy();
  }

  static boolean same(StateView a, StateView b) {
    return a.volumes().equals(b.volumes()) && a.containers().equals(b.containers());
  }

  /**
   * Reopens the store on {@code d} after a crash and checks that it holds one of
   * {@code allowed}, undamaged (a crash only ever tears the journal's tail), as the CLI's read
   * does too; returns what it holds. When reopening has to repair (a torn tail: it rewrites the
   * files), it is also cut after each of its steps, crashed and reopened once more.
   */
  static StateView reopen(SimDisk d, String where, boolean again, StateView... allowed) {
    SimDisk beforeOpen = d.copy();
    StateStore.ReadResult read = StateStore.read(DIR, T, d);
    StateView found;
    List<String> repairs;
    try (StateStore s = StateStore.open(DIR, "agent", T, d)) {
      found = s.view();
      repairs = s.repairs();
      assertFalse(s.damaged(), where + ": " + repairs);
    }
    assertTrue(same(read.view(), found) && !read.damaged(), where + ": the CLI reads the same");
    boolean ok = false;
    for (StateView a : allowed) {
      ok |= same(a, found);
    }
    assertTrue(ok, where + ": the table after the crash is neither before nor after the change: " + found.volumes());
    for (String r : repairs) {
      assertTrue(r.contains("a write cut short by a crash"), where + ": " + r);
    }
    if (again && !repairs.isEmpty()) {
      for (long cut = 0; ; cut++) {
        SimDisk d2 = beforeOpen.copy();
        d2.cutPowerAfter(cut);
        try {
          StateStore.open(DIR, "agent", T, d2).close();
          break; // the repair finished: every cut before it was tried
        } catch (SimDisk.PowerCut expected) {
          d2.crash(new Random(cut));
          reopen(d2, where + ", crash " + cut + " steps into the repair", false, found);
        }
      }
    }
    return found;
  }

  /** Runs the workload of try {@code seed}, calling {@code at} before each change i with the disk as it is then. */
  interface Before {
    void change(SimDisk disk, int i, Mutation<Void> m, StateView before, StateView after) throws Exception;
  }

  static void workload(long seed, Before at) throws Exception {
    SimDisk disk = new SimDisk();
    StateView model = StateView.mutableEmpty().copy();
    try (StateStore live = StateStore.open(DIR, "agent", T, disk)) {
      for (int i = 0; i < CHANGES; i++) {
        Mutation<Void> m = change(seed, i);
        StateView after = applied(model, m);
        at.change(disk, i, m, model, after);
        live.mutate(m);
        model = after;
        assertTrue(same(model, live.view()));
      }
    }
  }

  /** A store opened on a copy of {@code disk}, which must take no step to open (a clean disk). */
  static StateStore openCopy(SimDisk disk, SimDisk[] copy) {
    copy[0] = disk.copy();
    long steps = copy[0].steps();
    StateStore s = StateStore.open(DIR, "agent", T, copy[0]);
    assertEquals(steps, copy[0].steps(), "opening a clean state writes nothing");
    return s;
  }

  @Test
  void everyAcknowledgedChangeSurvivesACrashAfterAnyStepAndAnUnacknowledgedOneIsWholeOrAbsent() throws Exception {
    int[] cuts = {0};
    for (long seed = 0; seed < 2; seed++) {
      long sd = seed;
      workload(seed, (disk, i, m, before, after) -> {
        for (long cut = 0; ; cut++) {
          SimDisk[] d = new SimDisk[1];
          StateStore s = openCopy(disk, d);
          d[0].cutPowerAfter(cut);
          boolean acked;
          try {
            s.mutate(m);
            acked = true;
          } catch (SimDisk.PowerCut e) {
            acked = false;
            cuts[0]++;
          }
          d[0].crash(new Random(sd * 7 + cut * 131 + i));
          String where = "seed " + sd + ", change " + i + ", crash " + cut + " steps in";
          if (acked) {
            reopen(d[0], where, true, after);
            break;
          }
          reopen(d[0], where, true, before, after);
        }
      });
    }
    assertTrue(cuts[0] > 2 * 2 * CHANGES, "a crash was tried at each step of each change: " + cuts[0]);
  }

  @Test
  void aChangeThatFailsOnAFaultyDiskIsNeverMadeAndTheNextOneIs() throws Exception {
    int[] faultsAfterTheRecord = {0};
    workload(3, (disk, i, m, before, after) -> {
      if (i % 25 != 0 && i < StateStore.COMPACT_RECORDS - 3) {
        return; // every step of every 25th change, and all about the compaction
      }
      for (long k = 0; ; k++) {
        SimDisk[] d = new SimDisk[1];
        StateStore s = openCopy(disk, d);
        long start = d[0].steps();
        d[0].failAfter(k);
        String where = "change " + i + ", step " + k + " fails";
        try {
          s.mutate(m);
          assertTrue(same(after, s.view()), where);
          if (k >= d[0].steps() - start) {
            s.close();
            break; // the fault came after the change's last step: every step was tried
          }
          // The fault hit the compaction after the record was durable: the change is made.
          faultsAfterTheRecord[0]++;
          assertTrue(same(after, s.freshView()), where + ": also after a re-read");
          s.close();
          d[0].crash(new Random(k));
          reopen(d[0], where + " (in the compaction), then a crash", false, after);
        } catch (DvdiException e) {
          assertEquals(ErrorCode.INTERNAL, e.getCode(), where);
          assertTrue(same(before, s.view()), where + ": a change reported as failed is not in the table");
          assertTrue(same(before, s.freshView()), where + ": not even after a re-read");
          SimDisk crashed = d[0].copy();
          crashed.crash(new Random(k));
          reopen(crashed, where + ", then a crash", false, before);
          s.mutate(m);
          assertTrue(same(after, s.view()), where + ": the disk works again");
          s.close();
          d[0].crash(new Random(k + 1));
          reopen(d[0], where + ", retried, then a crash", false, after);
        }
      }
    });
    assertEquals(10, faultsAfterTheRecord[0], "each step of the compaction (two replaces of five steps) failed once");
  }

  @Test
  void theAgentAndTheCliOnOneDiskSeeEachOthersChangesAndLocks() throws Exception {
    SimDisk disk = new SimDisk();
    StateView model = StateView.mutableEmpty().copy();
    Random r = new Random(5);
    try (StateStore agent = StateStore.open(DIR, "agent", T, disk);
        StateStore cli = StateStore.open(DIR, "cli", T, disk)) {
      for (int i = 0; i < 200; i++) {
        StateStore writer = r.nextBoolean() ? agent : cli;
        StateStore other = writer == agent ? cli : agent;
        Mutation<Void> m = change(5, i);
        model = applied(model, m);
        writer.mutate(m);
        assertTrue(same(model, other.freshView()), "change " + i + " is seen by the other writer");
        assertTrue(same(model, StateStore.read(DIR, T, disk).view()), "and by a reader");
      }
      DvdiException e = agent.mutate((v, ch) -> assertThrows(DvdiException.class, () -> cli.freshView()));
      assertEquals(ErrorCode.TIMEOUT, e.getCode(), "the agent holds the lock while it decides");
      assertTrue(e.getMessage().contains("the dvdi state lock"), e.getMessage());
      assertThrows(DvdiException.class, () -> agent.mutate((v, ch) -> StateStore.read(DIR, T, disk)));
      cli.freshView(); // and lets it go after
    }
    disk.crash(new Random(5));
    reopen(disk, "after both wrote and the machine crashed", false, model);
    if (model.volumes().isEmpty()) {
      fail("the workload left no volume: it checks too little");
    }
  }
}
