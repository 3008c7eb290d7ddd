package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.testing.HangingLoopFactory;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine's data-safety rules (issue 7), on real loop devices: the kernel is the truth about
 * mounts, a call past its deadline is not "nothing happened", one slow provider never stalls
 * another, leftovers are retried with backoff, an operator can release what state lost.
 */
@RequiresRoot
class EngineSafetyRootTest {
  @TempDir
  Path tmp;

  TestDvdi t;
  Dvdi dvdi;

  @BeforeEach
  void setUp() throws Exception {
    HangingLoopFactory.resetCounters();
    t = new TestDvdi(tmp);
    t.settings.put("providers.hangloop.pool", tmp.resolve("slowpool").toString());
    t.settings.put("providers.hangloop.default-size", "32MiB");
  }

  void open() {
    dvdi = t.open(Dvdi.WRITER_AGENT);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (dvdi != null) {
      VolumeManager m = dvdi.manager();
      waitFor(Duration.ofSeconds(30), () -> HangingLoopFactory.inFlight.values().stream().allMatch(c -> c.get() == 0));
      for (String c : m.containers()) {
        m.cleanup(c).join();
      }
      for (VolumeKey k : dvdi.state().freshView().volumes().keySet()) {
        try {
          m.operatorRelease(k, true).join();
        } catch (CompletionException e) {
          // reported by the test's own assertions
        }
      }
      dvdi.close();
    }
    // whatever a test left (it has failed then): never leave mounts or loop devices behind
    for (KernelMounts.Mount mt : KernelMounts.read().under(tmp)) {
      new Commands().run(List.of("umount", "-l", mt.mountPoint()), CallContext.of(Duration.ofSeconds(10), "test", "test"));
    }
    for (String l : LeakCheck.loops()) {
      if (l.contains(tmp.toString())) {
        String dev = l.split(" ")[0].replace("/sys/block/", "/dev/").replace("/loop/backing_file", "");
        new Commands().run(List.of("losetup", "-d", dev), CallContext.of(Duration.ofSeconds(10), "test", "test"));
      }
    }
  }

  static void waitFor(Duration max, BooleanSupplier ok) throws InterruptedException {
    long until = System.nanoTime() + max.toNanos();
    while (!ok.getAsBoolean() && System.nanoTime() < until) {
      Thread.sleep(20);
    }
  }

  boolean attachedFrom(String pool) {
    return LeakCheck.loops().stream().anyMatch(l -> l.contains(tmp.resolve(pool).toString()));
  }

  static DvdiException failure(Throwable e) {
    return DvdiException.wrap(e, "test");
  }

  @Test
  void finding2_aMountTheKernelLostIsMountedAgainNotTrustedFromState() throws Exception {
    open();
    VolumeManager m = dvdi.manager();
    VolumeKey key = new VolumeKey("loop", "v");
    Results.PrepareResult op = m.operatorMount(key, org.dvdi.spi.VolumeOptions.EMPTY, false).join();
    Path host = Path.of(op.volumes().get(0).hostPath());
    Files.writeString(host.resolve("data.txt"), "kept\n");
    // Behind dvdi's back: the kernel loses the mount (an admin's umount, a preempt, a force-detach).
    new Commands().check(List.of("umount", host.toString()), CallContext.of(Duration.ofSeconds(10), "test", "test"), "umount");
    assertFalse(KernelMounts.read().isMountPoint(host));

    Results.PrepareResult r = m.prepare(t.request("c1", Map.of("DVDI_VOLUME_NAME", "v", "DVDI_VOLUME_CONTAINERPATH", "data"))).join();
    Path bound = Path.of(r.binds().get(0).source());
    assertTrue(KernelMounts.read().isMountPoint(bound), "the bind source is the volume again, not a directory on the root disk");
    assertFalse(r.volumes().get(0).fastPath(), "state said mounted, the kernel did not: the slow path is taken");
    assertEquals("kept\n", Files.readString(bound.resolve("data.txt")), "the task sees its data");
    m.cleanup("c1").join();
    assertTrue(KernelMounts.read().isMountPoint(host), "still held by the operator's mount");
    m.operatorUnmount(key).join();
    assertFalse(KernelMounts.read().isMountPoint(host));
    assertFalse(attachedFrom("pool"));
  }

  /**
   * Issue 13, hole 6: a volume found mounted early in a multi-volume prepare can be lost while
   * another volume attaches for a long time; its host path is checked again right before the
   * paths are handed out, and the prepare fails (rolled back) instead of binding a bare
   * directory of the agent's disk into the container.
   */
  @Test
  void hole6_aVolumeLostWhileAnotherAttachesIsNotHandedOut() throws Exception {
    t.settings.put("providers.hangloop.delay", "attach:2500");
    open();
    VolumeManager m = dvdi.manager();
    Path fast = Path.of(m.prepare(t.request("c1", Map.of("DVDI_VOLUME_NAME", "fast"))).join().volumes().get(0).hostPath());
    CompletableFuture<Results.PrepareResult> f = m.prepare(t.request("c2", Map.of("DVDI_VOLUME_NAME", "fast",
        "DVDI_VOLUME_NAME1", "slow", "DVDI_VOLUME_DRIVER1", "hangloop")));
    waitFor(Duration.ofSeconds(10), () -> HangingLoopFactory.inFlight.getOrDefault("attach", new java.util.concurrent.atomic.AtomicInteger()).get() > 0);
    assertEquals(0, new ProcessBuilder("umount", fast.toString()).inheritIO().start().waitFor());
    java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> f.get(20, TimeUnit.SECONDS), () -> "handed out " + fast + ", mounted: " + KernelMounts.read().isMountPoint(fast));
    DvdiException d = failure(e.getCause());
    assertTrue(d.getMessage().contains("loop/fast") && d.getMessage().contains("not mounted"), d.toString());
    assertEquals(null, dvdi.state().freshView().container("c2"), "rolled back");
  }

  @Test
  void finding3_anAttachPastItsDeadlineIsUndoneWhenItEndsNotForgotten() throws Exception {
    t.settings.put("timeout.attach", "300ms");
    t.settings.put("providers.hangloop.delay", "attach:3500");
    open();
    VolumeManager m = dvdi.manager();
    CompletableFuture<Results.PrepareResult> f = m.prepare(t.request("c1", Map.of("DVDI_VOLUME_NAME", "late",
        "DVDI_VOLUME_DRIVER", "hangloop")));
    java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
        () -> f.get(10, TimeUnit.SECONDS));
    assertEquals(ErrorCode.TIMEOUT, failure(e.getCause()).getCode(), e.toString());
    // The attach goes on and finishes late: its loop device must be detached, not leaked.
    waitFor(Duration.ofSeconds(20), () -> HangingLoopFactory.finished.getOrDefault("attach", new java.util.concurrent.atomic.AtomicInteger()).get() > 0
        && !attachedFrom("slowpool") && dvdi.state().freshView().volumes().isEmpty());
    assertFalse(attachedFrom("slowpool"), "the late attachment was undone: " + LeakCheck.loops());
    assertTrue(dvdi.state().freshView().volumes().isEmpty(), "and then forgotten: " + dvdi.state().freshView().volumes());
  }

  @Test
  void finding3_aNewPrepareWaitsForTheAbandonedCallOnItsVolume() throws Exception {
    t.settings.put("timeout.attach", "300ms");
    t.settings.put("providers.hangloop.delay", "attach:3000");
    open();
    VolumeManager m = dvdi.manager();
    CompletableFuture<Results.PrepareResult> f1 = m.prepare(t.request("c1", Map.of("DVDI_VOLUME_NAME", "late",
        "DVDI_VOLUME_DRIVER", "hangloop")));
    assertThrows(CompletionException.class, f1::join);
    CompletableFuture<Results.PrepareResult> f2 = m.prepare(t.request("c2", Map.of("DVDI_VOLUME_NAME", "late",
        "DVDI_VOLUME_DRIVER", "hangloop")));
    try {
      f2.join();
    } catch (CompletionException e) {
      // may time out too (its own attach is slow); what matters is that calls never overlapped
    }
    assertEquals(1, HangingLoopFactory.maxInFlight.get("attach").get(), "two attaches of one volume never overlap");
  }

  @Test
  void finding4_oneHungProviderNeverDelaysAnotherProviderOrAContainerWithoutVolumes() throws Exception {
    t.settings.put("timeout.attach", "20s");
    t.settings.put("providers.hangloop.delay", "attach:4000");
    open();
    VolumeManager m = dvdi.manager();
    List<CompletableFuture<Results.PrepareResult>> slow = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      slow.add(m.prepare(t.request("slow" + i, Map.of("DVDI_VOLUME_NAME", "s" + i, "DVDI_VOLUME_DRIVER", "hangloop"))));
    }
    waitFor(Duration.ofSeconds(10), () -> HangingLoopFactory.inFlight.getOrDefault("attach", new java.util.concurrent.atomic.AtomicInteger()).get() > 0);
    // While the slow provider's calls hang, a loop volume and a container without volumes go through.
    CompletableFuture<Results.PrepareResult> fast = m.prepare(t.request("fast", Map.of("DVDI_VOLUME_NAME", "quick")));
    Results.PrepareResult r = fast.get(3, TimeUnit.SECONDS);
    assertTrue(KernelMounts.read().isMountPoint(Path.of(r.volumes().get(0).hostPath())));
    // As the facade does it: parse on the engine's executor, then prepare.
    CompletableFuture<Results.PrepareResult> none = CompletableFuture.supplyAsync(
        () -> new org.dvdi.core.request.PrepareRequest("none", tmp, null, null, List.of()), m.executor()).thenCompose(m::prepare);
    assertNotNull(none.get(3, TimeUnit.SECONDS));
    m.cleanup("fast").join();
    for (int i = 0; i < 40; i++) {
      try {
        slow.get(i).join();
      } catch (CompletionException e) {
        // a slow one may fail (pool size); none may hang
      }
      m.cleanup("slow" + i).join();
    }
  }

  @Test
  void finding8_recoveryReleasesDeadContainersInParallel() throws Exception {
    t.settings.put("providers.hangloop.delay", "unmount:700");
    open();
    VolumeManager m = dvdi.manager();
    for (int i = 0; i < 4; i++) {
      m.prepare(t.request("dead" + i, Map.of("DVDI_VOLUME_NAME", "d" + i, "DVDI_VOLUME_DRIVER", "hangloop"))).join();
    }
    dvdi.close();
    dvdi = t.open(Dvdi.WRITER_AGENT);
    Results.RecoverResult r = dvdi.manager().recover(Set.of(), Set.of()).join();
    assertEquals(4, r.releasedVolumes().size(), r.toString());
    assertTrue(HangingLoopFactory.maxInFlight.get("unmount").get() > 1,
        "the releases of dead containers ran at once, not one after another: at most "
            + HangingLoopFactory.maxInFlight.get("unmount").get() + " at a time");
    assertFalse(attachedFrom("slowpool"));
  }

  @Test
  void finding8_aFailingReleaseIsRetriedWithBackoff() throws Exception {
    t.settings.put("release.retry-interval", "100ms");
    open();
    VolumeManager m = dvdi.manager();
    m.startReaper();
    VolumeKey key = new VolumeKey("loop", "busy");
    Results.PrepareResult a = m.prepare(t.request("b1", Map.of("DVDI_VOLUME_NAME", "busy"))).join();
    Path host = Path.of(a.volumes().get(0).hostPath());
    try (java.io.FileInputStream held = new java.io.FileInputStream(Files.createFile(host.resolve("held")).toFile())) {
      m.cleanup("b1").join();
      Thread.sleep(3000);
      long failures = m.metrics().snapshot().entrySet().stream().filter(e -> e.getKey().equals("release_failed"))
          .mapToLong(e -> ((Number) e.getValue()).longValue()).sum();
      // 100 ms fixed would be ~30 tries in 3 s; doubling from 100 ms is 5 (0.1+0.2+0.4+0.8+1.6).
      assertTrue(failures >= 2 && failures <= 7, "retries back off: " + failures + " failed releases in 3 s");
    }
    waitFor(Duration.ofSeconds(20), () -> dvdi.state().freshView().volume(key) == null);
    assertNull(dvdi.state().freshView().volume(key), "released once the file was closed");
  }

  @Test
  void finding10_releaseOfAMountStateDoesNotKnow() throws Exception {
    open();
    VolumeKey key = new VolumeKey("loop", "lost");
    Results.PrepareResult op = dvdi.manager().operatorMount(key, org.dvdi.spi.VolumeOptions.EMPTY, false).join();
    Path host = Path.of(op.volumes().get(0).hostPath());
    dvdi.close();
    // State is lost (damage, an operator's rm): the mount is still there.
    for (Path p : Files.list(t.stateDir).toList()) {
      Files.delete(p);
    }
    dvdi = t.open(Dvdi.WRITER_AGENT);
    assertNull(dvdi.state().freshView().volume(key));
    dvdi.manager().operatorRelease(key, false).join();
    assertFalse(KernelMounts.read().isMountPoint(host), "unmounted");
    assertFalse(attachedFrom("pool"), "and its loop device detached: " + LeakCheck.loops());
  }

  @Test
  void finding9_afterJournalDamageTheNextTaskStillGetsItsVolume() throws Exception {
    open();
    VolumeManager m = dvdi.manager();
    for (int i = 0; i < 3; i++) {
      m.prepare(t.request("w" + i, Map.of("DVDI_VOLUME_NAME", "v", "DVDI_VOLUME_NAME1", "o" + i))).join();
      m.cleanup("w" + i).join();
    }
    dvdi.close();
    dvdi = null;
    Path journal = t.stateDir.resolve("state.journal");
    byte[] good = Files.readAllBytes(journal);
    byte[] snapshot = Files.readAllBytes(t.stateDir.resolve("state.snapshot"));
    for (int k = 1; k <= 9; k++) {
      int at = good.length * k / 10;
      try (java.util.stream.Stream<Path> files = Files.list(t.stateDir)) {
        for (Path f : files.toList()) {
          Files.delete(f);
        }
      }
      Files.write(t.stateDir.resolve("state.snapshot"), snapshot);
      byte[] bad = good.clone();
      bad[at] ^= 0x5a;
      Files.write(journal, bad);
      open(); // no recovery: as in a running agent that re-reads the damaged journal
      Results.PrepareResult r = dvdi.manager().prepare(t.request("next" + k, Map.of("DVDI_VOLUME_NAME", "v",
          "DVDI_VOLUME_CONTAINERPATH", "data"))).join();
      Path bound = Path.of(r.binds().get(0).source());
      assertTrue(KernelMounts.read().isMountPoint(bound), "byte " + at + " flipped: the next task's bind source is the volume");
      dvdi.manager().cleanup("next" + k).join();
      assertTrue(KernelMounts.read().under(t.mountRoot).isEmpty(), "byte " + at + ": nothing left mounted");
      assertFalse(attachedFrom("pool"), "byte " + at + ": nothing left attached");
      dvdi.close();
      dvdi = null;
    }
    open();
  }
}
