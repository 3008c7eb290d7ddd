package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.testing.CrashHarness;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recovery after crashes and restarts, on real loop devices: a separate JVM is killed with
 * SIGKILL between the intent and the outcome of a step, then a new dvdi recovers.
 */
@RequiresRoot
class RecoveryRootTest {
  @TempDir
  Path tmp;

  TestDvdi t;

  @BeforeEach
  void setUp() throws IOException {
    t = new TestDvdi(tmp);
    t.settings.put("driver.default", "hangloop");
    t.settings.remove("providers.loop.pool");
    t.settings.remove("providers.loop.default-size");
    t.settings.put("providers.hangloop.pool", t.pool.toString());
    t.settings.put("providers.hangloop.default-size", "32MiB");
  }

  /** Runs the harness in its own JVM until the hanging provider says it is mid-step, then kills it with SIGKILL. */
  void crash(String op, String cid, String volume, String hangAfter) throws Exception {
    Path marker = tmp.resolve("marker-" + cid);
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), CrashHarness.class.getName(), op, cid, volume));
    t.settings.forEach((k, v) -> cmd.add(k + "=" + v));
    cmd.add("providers.hangloop.hang-after=" + hangAfter);
    cmd.add("providers.hangloop.marker=" + marker);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("harness-" + cid + ".log").toFile()).start();
    long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!Files.exists(marker)) {
      if (!p.isAlive() || System.nanoTime() > until) {
        p.destroyForcibly();
        throw new AssertionError("harness did not reach '" + hangAfter + "': " + Files.readString(tmp.resolve("harness-" + cid + ".log")));
      }
      Thread.sleep(20);
    }
    p.destroyForcibly(); // SIGKILL
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(137, p.exitValue(), "killed by SIGKILL");
  }

  Volume stateOf(String volume) {
    return StateStore.read(t.stateDir, Duration.ofSeconds(5)).view().volume(new VolumeKey("hangloop", volume));
  }

  boolean loopAttached() {
    return LeakCheck.loops().stream().anyMatch(l -> l.contains(t.pool.toString()));
  }

  void assertNothingLeft(Dvdi d) {
    assertTrue(KernelMounts.read().under(t.mountRoot).isEmpty(), "no mount left: " + KernelMounts.read().under(t.mountRoot));
    assertFalse(loopAttached(), "no loop device left: " + LeakCheck.loops());
    assertTrue(d.state().freshView().volumes().isEmpty(), d.state().freshView().volumes().toString());
  }

  @Test
  void killedBetweenMountAndItsOutcomeThenRecoveryUndoesIt() throws Exception {
    crash("prepare", "c1", "v1", "mount");
    assertEquals(VolumeStatus.ATTACHING, stateOf("v1").getStatus(), "the intent was written");
    assertTrue(KernelMounts.read().isMountPoint(t.mountRoot.resolve("hangloop/v1")), "the step happened");
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      Results.RecoverResult r = d.manager().recover(Set.of(), Set.of()).join();
      assertEquals(List.of("c1"), r.releasedContainers());
      assertNothingLeft(d);
    }
  }

  @Test
  void killedAfterAttachWhileTheContainerIsStillLive() throws Exception {
    crash("prepare", "c2", "v2", "attach");
    assertTrue(loopAttached());
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      Results.RecoverResult r = d.manager().recover(Set.of("c2"), Set.of()).join();
      assertEquals(List.of("c2"), r.keptContainers(), "Mesos still has it; it will clean it up");
      assertEquals(ContainerStatus.PREPARING, d.state().view().container("c2").getStatus());
      assertFalse(loopAttached(), "the half-attached volume has no user: undone");
      d.manager().cleanup("c2").join();
      assertNothingLeft(d);
    }
  }

  @Test
  void killedDuringTheReleaseThenRecoveryFinishesIt() throws Exception {
    crash("prepare-then-cleanup", "c3", "v3", "unmount");
    assertEquals(VolumeStatus.RELEASING, stateOf("v3").getStatus());
    assertTrue(loopAttached(), "unmounted but not yet detached");
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      d.manager().recover(Set.of(), Set.of()).join();
      assertNothingLeft(d);
    }
  }

  @Test
  void liveContainersKeepTheirVolumesOthersAreReleased() throws Exception {
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      d.manager().prepare(t.request("c1", Map.of("DVDI_VOLUME_NAME", "va"))).join();
      d.manager().prepare(t.request("c2", Map.of("DVDI_VOLUME_NAME", "vb"))).join();
      d.manager().prepare(t.request("c3", Map.of("DVDI_VOLUME_NAME", "va"))).join();
    } // the agent stops; mounts stay
    Path va = t.mountRoot.resolve("hangloop/va");
    Path vb = t.mountRoot.resolve("hangloop/vb");
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      Results.RecoverResult r = d.manager().recover(Set.of("c1"), Set.of("c3")).join();
      assertEquals(List.of("c2"), r.releasedContainers());
      assertEquals(List.of(new VolumeKey("hangloop", "vb")), r.releasedVolumes());
      assertTrue(KernelMounts.read().isMountPoint(va), "used by a live container and an orphan");
      assertFalse(KernelMounts.read().isMountPoint(vb), "its container died while the agent was down");
      d.manager().cleanup("c3").join();
      assertTrue(KernelMounts.read().isMountPoint(va));
      d.manager().cleanup("c1").join();
      assertNothingLeft(d);
    }
  }

  @Test
  void volumesMountedBeforeARebootAreReleasedOrMountedAgain() throws Exception {
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      d.manager().prepare(t.request("old", Map.of("DVDI_VOLUME_NAME", "gone"))).join();
      d.manager().prepare(t.request("live", Map.of("DVDI_VOLUME_NAME", "back"))).join();
      Files.writeString(t.mountRoot.resolve("hangloop/back/kept.txt"), "data");
      // What a reboot does: mounts and loop devices vanish; state says another boot.
      d.state().mutate((v, ch) -> {
        for (Volume vol : v.volumes().values()) {
          ch.putVolume(vol.toBuilder().setBootId("an-earlier-boot").build());
        }
        return null;
      });
      for (String n : List.of("gone", "back")) {
        Process u = new ProcessBuilder("umount", t.mountRoot.resolve("hangloop/" + n).toString()).inheritIO().start();
        assertEquals(0, u.waitFor());
      }
      for (String l : LeakCheck.loops()) {
        if (l.contains(t.pool.toString())) {
          assertEquals(0, new ProcessBuilder("losetup", "-d", l.split(" ")[0]).inheritIO().start().waitFor());
        }
      }
    }
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      Results.RecoverResult r = d.manager().recover(Set.of("live"), Set.of()).join();
      assertTrue(r.problems().isEmpty(), r.problems().toString());
      assertFalse(KernelMounts.read().isMountPoint(t.mountRoot.resolve("hangloop/gone")));
      assertTrue(KernelMounts.read().isMountPoint(t.mountRoot.resolve("hangloop/back")), "mounted again for the live container");
      assertEquals("data", Files.readString(t.mountRoot.resolve("hangloop/back/kept.txt")));
      assertTrue(d.state().view().volume(new VolumeKey("hangloop", "back")).getBootId().equals(
          org.dvdi.spi.host.HostInfo.bootId()));
      d.manager().cleanup("live").join();
      assertNothingLeft(d);
    }
  }

  @Test
  void mountsStateDoesNotKnowAreAdoptedAndReleasedOnlyByAnOperator() throws Exception {
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      d.manager().prepare(t.request("c9", Map.of("DVDI_VOLUME_NAME", "lost"))).join();
    }
    // The state is lost (deleted by hand, a broken disk...).
    try (var files = Files.list(t.stateDir)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    VolumeKey lost = new VolumeKey("hangloop", "lost");
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      Results.RecoverResult r = d.manager().recover(Set.of(), Set.of()).join();
      assertEquals(List.of(lost), r.adoptedVolumes());
      assertTrue(d.state().view().volume(lost).getPinned());
      assertTrue(KernelMounts.read().isMountPoint(t.mountRoot.resolve("hangloop/lost")), "kept: somebody may use it");
      d.manager().recover(Set.of(), Set.of()).join();
      assertTrue(KernelMounts.read().isMountPoint(t.mountRoot.resolve("hangloop/lost")), "pinned: not released by recovery");
      d.manager().operatorRelease(lost, false).join();
      assertNothingLeft(d);
    }
  }
}
