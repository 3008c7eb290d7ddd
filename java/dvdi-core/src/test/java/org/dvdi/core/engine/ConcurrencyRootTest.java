package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many containers at once over few volumes: each volume mounted once, reference counts right. */
@RequiresRoot
class ConcurrencyRootTest {
  @TempDir
  Path tmp;

  @Test
  void hundredConcurrentPreparesOverTwentyVolumes() throws Exception {
    TestDvdi t = new TestDvdi(tmp);
    try (Dvdi d = t.open(Dvdi.WRITER_AGENT)) {
      VolumeManager m = d.manager();
      List<CompletableFuture<Results.PrepareResult>> fs = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        Map<String, String> env = new HashMap<>();
        env.put("DVDI_VOLUME_NAME", "cv" + (i % 20));
        if (i % 3 == 0) {
          env.put("DVDI_VOLUME_NAME1", "cv" + ((i + 7) % 20)); // some containers use two volumes
        }
        fs.add(m.prepare(t.request("k" + i, env)));
      }
      CompletableFuture.allOf(fs.toArray(new CompletableFuture<?>[0])).join();
      StateView view = d.state().freshView();
      assertEquals(20, view.volumes().size());
      assertEquals(100, view.containers().size());
      int refs = 0;
      for (VolumeKey k : view.volumes().keySet()) {
        refs += view.users(k).size();
        assertEquals(1, KernelMounts.read().ofSource(view.volume(k).getDevice()).size(), k + " is mounted exactly once");
      }
      assertEquals(100 + 34, refs, "one reference per (container, volume)");
      assertEquals(20, KernelMounts.read().under(t.mountRoot).size());
      List<CompletableFuture<Results.CleanupResult>> cs = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        cs.add(m.cleanup("k" + i));
      }
      CompletableFuture.allOf(cs.toArray(new CompletableFuture<?>[0])).join();
      for (CompletableFuture<Results.CleanupResult> c : cs) {
        assertTrue(c.join().failures().isEmpty(), c.join().failures().toString());
      }
      assertTrue(d.state().freshView().volumes().isEmpty());
      assertTrue(KernelMounts.read().under(t.mountRoot).isEmpty());
    }
  }
}
