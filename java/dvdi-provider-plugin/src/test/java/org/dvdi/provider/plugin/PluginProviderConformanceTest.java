package org.dvdi.provider.plugin;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.testing.ProviderConformance;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The plugin provider against the shared conformance suite, with a plugin on a real unix socket. */
class PluginProviderConformanceTest extends ProviderConformance {
  @TempDir
  static Path tmp;

  static FakePlugin plugin;
  static VolumeProvider provider;

  @BeforeAll
  static void start() throws Exception {
    plugin = FakePlugin.unix(tmp.resolve("sockets/conform.sock"), tmp.resolve("volumes"));
    provider = new PluginProviderFactory().create("conform", TestContexts.of(Map.of(
        PluginProvider.SET_SOCKET_DIRS, tmp.resolve("sockets").toString(),
        PluginProvider.SET_SPEC_DIRS, tmp.resolve("specs").toString())));
  }

  @AfterEach
  void protocolKept() {
    assertEquals(List.of(), plugin.violations, "protocol violations seen by the plugin");
  }

  @AfterAll
  static void stop() throws Exception {
    plugin.close();
  }

  @Override
  protected VolumeProvider provider() {
    return provider;
  }

  @Override
  protected VolumeOptions smallVolume() {
    return new VolumeOptions(Map.of("size", "1"), "test");
  }
}
