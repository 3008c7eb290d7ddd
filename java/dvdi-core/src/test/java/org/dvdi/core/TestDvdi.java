package org.dvdi.core;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.request.MesosRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;

/** A dvdi on temporary directories: state, mount root, loop pool. */
public final class TestDvdi {
  public final Path root;
  public final Path stateDir;
  public final Path mountRoot;
  public final Path pool;
  public final Map<String, String> settings = new HashMap<>();

  public TestDvdi(Path root) throws IOException {
    this.root = root;
    this.stateDir = root.resolve("state");
    this.mountRoot = root.resolve("volumes");
    this.pool = root.resolve("pool");
    Files.createDirectories(root.resolve("sandboxes"));
    settings.put(DvdiConfig.STATE_DIR, stateDir.toString());
    settings.put(DvdiConfig.MOUNT_ROOT, mountRoot.toString());
    settings.put("providers.loop.pool", pool.toString());
    settings.put(DvdiConfig.DEFAULT_DRIVER, "loop");
    settings.put("providers.loop.default-size", "32MiB");
    settings.put(DvdiConfig.RETRY_INTERVAL, "1h");
  }

  public DvdiConfig config() {
    return new DvdiConfig(new org.dvdi.spi.Settings(settings, "test"));
  }

  public Dvdi open(String writer) {
    return Dvdi.open(config(), writer);
  }

  /** A request from DVDI env vars, with a fresh sandbox. */
  public PrepareRequest request(String containerId, Map<String, String> env) throws IOException {
    Path sandbox = Files.createDirectories(root.resolve("sandboxes").resolve(containerId));
    List<VolumeRequest> vols = EnvRequests.parse(env, settings.get(DvdiConfig.DEFAULT_DRIVER));
    MesosRequests.checkDistinct(vols);
    return new PrepareRequest(containerId, sandbox, null, null, vols);
  }
}
