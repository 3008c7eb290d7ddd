package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.engine.Results.PrepareResult;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume of a provider that mounts by itself (a Docker volume plugin, dvdcli: {@code
 * kernelMounts} false) whose mount goes away behind dvdi's back is mounted again before a
 * container gets its path, never handed out as the bare directory below it on the agent's
 * disk (issue 13, hole 1). The provider is {@code tmpfsplugin}: a tmpfs per volume, the answered
 * path a directory inside it, as REX-Ray does.
 */
@RequiresRoot
@ExtendWith(LeakCheck.class)
class PluginMountLostRootTest {
  @TempDir
  Path tmp;

  TestDvdi t;
  Path base;
  Dvdi dvdi;

  @BeforeEach
  void setUp() throws Exception {
    t = new TestDvdi(tmp);
    base = Files.createDirectories(tmp.resolve("plugin"));
    t.settings.put("drivers.tmpfsplugin", "tmpfsplugin");
    t.settings.put("providers.tmpfsplugin.base", base.toString());
    dvdi = t.open(Dvdi.WRITER_AGENT);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (dvdi != null) {
      for (String c : dvdi.manager().containers()) {
        dvdi.manager().cleanup(c).join();
      }
      dvdi.close();
    }
    for (KernelMounts.Mount m : KernelMounts.read().under(base)) {
      new ProcessBuilder("umount", "-l", m.mountPoint()).inheritIO().start().waitFor();
    }
  }

  static Map<String, String> env() {
    return Map.of("DVDI_VOLUME_NAME", "web", "DVDI_VOLUME_DRIVER", "tmpfsplugin");
  }

  static long dev(Path p) throws Exception {
    return ((Number) Files.getAttribute(p, "unix:dev", LinkOption.NOFOLLOW_LINKS)).longValue();
  }

  /** The path the container got lies on the plugin's mount of the volume, not on the disk below it. */
  void assertOnTheVolume(PrepareResult r) throws Exception {
    Path host = Path.of(r.volumes().get(0).hostPath());
    assertEquals(base.resolve("web/data"), host);
    assertTrue(KernelMounts.read().isMountPoint(base.resolve("web")), "the plugin's mount is there");
    assertNotEquals(dev(base), dev(host), "the host path handed out lies on the volume's mount, not on the agent's disk");
  }

  void umountBehindDvdisBack() throws Exception {
    assertEquals(0, new ProcessBuilder("umount", base.resolve("web").toString()).inheritIO().start().waitFor());
    Files.createDirectories(base.resolve("web/data")); // the bare directory on the disk, as a plugin leaves it
    assertFalse(KernelMounts.read().isMountPoint(base.resolve("web")));
  }

  @Test
  void theNextContainerGetsTheVolumeMountedAgainNotTheBareDirectory() throws Exception {
    VolumeManager m = dvdi.manager();
    assertOnTheVolume(m.prepare(t.request("c1", env())).join());
    umountBehindDvdisBack();
    PrepareResult second = m.prepare(t.request("c2", env())).join();
    assertFalse(second.volumes().get(0).fastPath(), "a lost mount takes the slow path");
    assertOnTheVolume(second);
  }

  @Test
  void recoveryMountsALostPluginVolumeAgainForItsLiveContainer() throws Exception {
    assertOnTheVolume(dvdi.manager().prepare(t.request("c1", env())).join());
    dvdi.close();
    dvdi = null;
    umountBehindDvdisBack();
    dvdi = t.open(Dvdi.WRITER_AGENT);
    Results.RecoverResult r = dvdi.manager().recover(Set.of("c1"), Set.of()).join();
    assertEquals(List.of(), r.problems());
    assertTrue(KernelMounts.read().isMountPoint(base.resolve("web")), "mounted again for c1");
    assertNotEquals(dev(base), dev(base.resolve("web/data")));
  }
}
