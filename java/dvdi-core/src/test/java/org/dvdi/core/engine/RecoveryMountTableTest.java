package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.seams.SimHost;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.Settings;
import org.dvdi.spi.host.Commands;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recovery asks the kernel's mount table once (issue 13: "one scan of the mount root"), for
 * the records that need it and for the mounts to adopt; here on a simulated host, whose mounts
 * under the mount root nobody but the test makes, so no provider is called.
 */
class RecoveryMountTableTest {
  static final Path MOUNT_ROOT = Path.of("/sim/volumes");

  @TempDir
  Path tmp;

  final SimHost host = new SimHost();
  StateStore state;
  ProviderRegistry providers;
  VolumeManager manager;

  VolumeManager open() {
    DvdiConfig config = new DvdiConfig(new Settings(Map.of(DvdiConfig.STATE_DIR, tmp.resolve("state").toString(),
        DvdiConfig.MOUNT_ROOT, MOUNT_ROOT.toString(), DvdiConfig.RETRY_INTERVAL, "1h"), "test"));
    Commands commands = new Commands();
    state = StateStore.open(config.stateDir(), Dvdi.WRITER_AGENT, config.lockTimeout());
    providers = new ProviderRegistry(config, commands, getClass().getClassLoader());
    manager = new VolumeManager(config, state, providers, commands, Dvdi.WRITER_AGENT,
        new org.dvdi.core.seams.Seams(org.dvdi.core.seams.Scheduler.real(), host));
    return manager;
  }

  @AfterEach
  void close() {
    manager.close();
    providers.close();
    state.close();
  }

  /** A plugin-style mount (a new filesystem) at {@code <mount root>/<driver>/<name>} that dvdi did not make. */
  void mountBehindDvdisBack(VolumeKey key) throws Exception {
    Path at = MOUNT_ROOT.resolve(key.driver()).resolve(key.name());
    host.mkdirs(at);
    host.mountNew("plugin:" + key.name(), "tmpfs", at);
  }

  @Test
  void recoveryReadsTheMountTableOnceForAdoptionAndForRecordsWithoutADevice() throws Exception {
    VolumeKey a = new VolumeKey("t", "a");
    VolumeKey b = new VolumeKey("t", "b");
    mountBehindDvdisBack(a);
    VolumeManager m = open();
    RecoverResult first = m.recover(Set.of(), Set.of()).get(30, TimeUnit.SECONDS);
    assertEquals(List.of(a), first.adoptedVolumes());
    assertTrue(state.freshView().volume(a).getPinned());
    assertEquals(0, state.freshView().volume(a).getHostDev(), "an adopted record asks the mount table");

    mountBehindDvdisBack(b);
    long reads = host.mountTableReads();
    RecoverResult second = m.recover(Set.of(), Set.of()).get(30, TimeUnit.SECONDS);
    assertEquals(List.of(b), second.adoptedVolumes(), "b adopted; a known already");
    assertEquals(List.of(a), second.keptVolumes(), "a pinned and mounted: kept, not mounted again");
    assertEquals(1, host.mountTableReads() - reads, "one read of the mount table");
  }
}
