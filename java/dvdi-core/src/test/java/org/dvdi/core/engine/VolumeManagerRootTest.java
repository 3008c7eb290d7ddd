package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The volume manager with the real loop provider: real loop devices, real mounts. */
@RequiresRoot
class VolumeManagerRootTest {
  @TempDir
  Path tmp;

  TestDvdi t;
  Dvdi dvdi;
  VolumeManager m;

  @BeforeEach
  void setUp() throws Exception {
    t = new TestDvdi(tmp);
    dvdi = t.open(Dvdi.WRITER_AGENT);
    m = dvdi.manager();
  }

  @AfterEach
  void tearDown() {
    for (String c : m.containers()) {
      m.cleanup(c).join();
    }
    dvdi.close();
  }

  static DvdiException failure(Throwable t) {
    return DvdiException.wrap(t, "test");
  }

  @Test
  void sharedVolumeIsReleasedAfterItsLastUserOnly() throws Exception {
    Results.PrepareResult a = m.prepare(t.request("c1", Map.of("DVDI_VOLUME_NAME", "shared",
        "DVDI_VOLUME_CONTAINERPATH", "data"))).join();
    assertFalse(a.volumes().get(0).fastPath());
    Path host = Path.of(a.volumes().get(0).hostPath());
    assertEquals(t.mountRoot.resolve("loop/shared"), host);
    assertTrue(KernelMounts.read().isMountPoint(host), "mounted after the first prepare");
    assertEquals(1, a.binds().size());
    assertEquals(t.root.resolve("sandboxes/c1/data").toString(), a.binds().get(0).target());
    assertTrue(Files.isDirectory(Path.of(a.binds().get(0).target())), "bind target created in the sandbox");

    Results.PrepareResult b = m.prepare(t.request("c2", Map.of("DVDI_VOLUME_NAME", "shared"))).join();
    assertTrue(b.volumes().get(0).fastPath(), "second user takes the fast path");
    assertEquals(host.toString(), b.environment().get("DVDI_HOSTPATH"), "unbound volume's host path is exported");
    assertEquals(List.of("c1", "c2"), m.state().view().users(new VolumeKey("loop", "shared")));

    Results.CleanupResult r1 = m.cleanup("c1").join();
    assertTrue(r1.released().isEmpty());
    assertTrue(KernelMounts.read().isMountPoint(host), "still mounted for c2");

    Results.CleanupResult r2 = m.cleanup("c2").join();
    assertEquals(List.of(new VolumeKey("loop", "shared")), r2.released());
    assertFalse(KernelMounts.read().isMountPoint(host), "unmounted after the last user");
    assertTrue(LeakCheck.loops().stream().noneMatch(l -> l.contains(t.pool.toString())), "loop device detached");
    assertTrue(m.state().view().volumes().isEmpty());
    assertTrue(m.state().view().containers().isEmpty());
  }

  @Test
  void dataPersistsAcrossUses() throws Exception {
    Results.PrepareResult a = m.prepare(t.request("w1", Map.of("DVDI_VOLUME_NAME", "keep"))).join();
    Files.writeString(Path.of(a.volumes().get(0).hostPath(), "hello.txt"), "Hello 1\n");
    m.cleanup("w1").join();
    Results.PrepareResult b = m.prepare(t.request("w2", Map.of("DVDI_VOLUME_NAME", "keep"))).join();
    assertEquals("Hello 1\n", Files.readString(Path.of(b.volumes().get(0).hostPath(), "hello.txt")));
    m.cleanup("w2").join();
  }

  @Test
  void aFailedUnmountIsKeptAndRetried() throws Exception {
    dvdi.close();
    t.settings.put("release.retry-interval", "300ms");
    dvdi = t.open(Dvdi.WRITER_AGENT);
    m = dvdi.manager();
    m.startReaper();
    Results.PrepareResult a = m.prepare(t.request("busy1", Map.of("DVDI_VOLUME_NAME", "busy"))).join();
    Path host = Path.of(a.volumes().get(0).hostPath());
    VolumeKey key = new VolumeKey("loop", "busy");
    try (java.io.FileInputStream open = new java.io.FileInputStream(Files.createFile(host.resolve("held")).toFile())) {
      Results.CleanupResult r = m.cleanup("busy1").join();
      assertEquals(1, r.failures().size(), "the unmount fails while a file is open");
      assertTrue(r.failures().get(0).contains("VOLUME_BUSY"), r.failures().toString());
      assertTrue(m.state().view().containers().isEmpty(), "the container is gone either way");
      assertTrue(m.state().view().volume(key).getLastError().contains("still in use"), "kept, with why");
      assertTrue(KernelMounts.read().isMountPoint(host));
    }
    long until = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
    while (m.state().freshView().volume(key) != null && System.nanoTime() < until) {
      Thread.sleep(50);
    }
    assertTrue(m.state().freshView().volume(key) == null, "released by a retry once the file was closed");
    assertFalse(KernelMounts.read().isMountPoint(host));
  }

  @Test
  void multiVolumeRequestIsAllOrNothing() throws Exception {
    CompletionException e = assertThrows(CompletionException.class, () -> m.prepare(t.request("x1", Map.of(
        "DVDI_VOLUME_NAME", "first",
        "DVDI_VOLUME_NAME1", "second",
        "DVDI_VOLUME_NAME2", "missing", "DVDI_VOLUME_EXPLICITCREATE2", "true"))).join());
    assertEquals(ErrorCode.VOLUME_NOT_FOUND, failure(e).getCode());
    assertTrue(failure(e).getMessage().contains("loop/missing"), failure(e).getMessage());
    assertTrue(m.state().view().volumes().isEmpty(), "nothing stays mounted: " + m.state().view().volumes().keySet());
    assertTrue(m.state().view().containers().isEmpty());
    assertTrue(KernelMounts.read().under(t.mountRoot).isEmpty());
  }
}
