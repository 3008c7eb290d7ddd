package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.dvdi.core.engine.MountTable.Acquire;
import org.dvdi.core.engine.MountTable.Actor;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.seams.SimDisk;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.spi.VolumeOptions;
import org.junit.jupiter.api.Test;

/** Single transitions of the mount table, step by step (no I/O: a simulated store). */
class MountTableTest {
  static final VolumeKey KEY = new VolumeKey("loop", "a");
  static final Duration FIRST = Duration.ofSeconds(1);
  static final Duration MAX = Duration.ofMinutes(10);

  final StateStore state = StateStore.open(java.nio.file.Path.of("/state"), "test", java.time.Duration.ofSeconds(1),
      new SimDisk());
  final Actor actor = new Actor("agent:1:boot", "boot", 1_000_000L, owner -> false);

  Volume volume() {
    return state.view().volume(KEY);
  }

  void releaseFails(String why) {
    state.mutate((v, ch) -> {
      MountTable.releaseFailed(v, ch, KEY, why, actor);
      return null;
    });
  }

  /** A container asks for the volume: its prepare begins and the volume's acquisition is decided. */
  Acquire acquire(String cid) {
    VolumeRequest v = new VolumeRequest(KEY.driver(), KEY.name(), VolumeOptions.EMPTY, "", false, false,
        "DVDI_VOLUME_NAME", "");
    PrepareRequest req = new PrepareRequest(cid, null, null, null, List.of(v));
    assertNull(state.mutate((view, ch) -> MountTable.beginPrepare(view, ch, req, Map.of(KEY, ""), x -> true, actor)));
    return state.mutate((view, ch) -> MountTable.beginAcquire(view, ch, cid, KEY, VolumeOptions.EMPTY, x -> true, actor));
  }

  @Test
  void hole11c_aVolumeAcquiredAgainStartsItsReleaseBackoffAfresh() {
    // A release that failed five times in a row: RELEASING, retried 16 s after the last failure.
    state.mutate((v, ch) -> {
      ch.putVolume(Volume.newBuilder().setDriver(KEY.driver()).setName(KEY.name()).setStatus(VolumeStatus.RELEASING)
          .setLastError("device busy").setLastErrorMs(900_000L).setReleaseAttempts(5).setOpOwner("agent:0:old").build());
      return null;
    });
    assertEquals(900_000L + 16_000L, MountTable.nextRetryMs(volume(), FIRST, MAX));

    // A container asks for it: the volume begins a new life.
    assertEquals(Acquire.CALL_PROVIDER, acquire("c1"));
    assertEquals(VolumeStatus.ATTACHING, volume().getStatus());
    assertEquals(0, volume().getReleaseAttempts(), "the old life's failures are not this one's");

    // Its attach fails, and so does the undo: the first failure of this life, retried after FIRST.
    releaseFails("attach failed");
    assertEquals(1, volume().getReleaseAttempts());
    assertEquals(actor.nowMs() + FIRST.toMillis(), MountTable.nextRetryMs(volume(), FIRST, MAX));
  }

  @Test
  void withinOneLifeTheReleaseBackoffKeepsGrowing() {
    assertEquals(Acquire.CALL_PROVIDER, acquire("c1"));
    releaseFails("attach failed");
    // The retry loop tries again (a new release intent keeps the count) and fails again.
    state.mutate((v, ch) -> MountTable.beginRelease(v, ch, null, KEY, actor));
    assertEquals(1, volume().getReleaseAttempts());
    releaseFails("still busy");
    assertEquals(2, volume().getReleaseAttempts());
    assertEquals(actor.nowMs() + 2 * FIRST.toMillis(), MountTable.nextRetryMs(volume(), FIRST, MAX));
    // Released at last: forgotten, with its count.
    state.mutate((v, ch) -> {
      MountTable.released(v, ch, KEY);
      return null;
    });
    assertNull(volume());
  }
}
