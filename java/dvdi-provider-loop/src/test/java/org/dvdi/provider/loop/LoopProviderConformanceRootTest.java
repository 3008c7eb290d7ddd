package org.dvdi.provider.loop;

import java.nio.file.Path;
import java.util.Map;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.testing.ProviderConformance;
import org.dvdi.spi.testing.RequiresRoot;
import org.dvdi.spi.testing.TestProviderContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The loop provider against the shared conformance suite, on real loop devices. */
@RequiresRoot
class LoopProviderConformanceRootTest extends ProviderConformance {
  @TempDir
  static Path tmp;

  static VolumeProvider provider;

  @BeforeAll
  static void make() {
    provider = new LoopProviderFactory().create("loop", context(tmp, "host-a", Map.of()));
  }

  static ProviderContext context(Path root, String instance, Map<String, String> extra) {
    java.util.HashMap<String, String> s = new java.util.HashMap<>(Map.of("pool", root.resolve("pool").toString()));
    s.putAll(extra);
    return TestProviderContext.of(root.resolve("mnt-" + instance), instance, s);
  }

  @Override
  protected VolumeProvider provider() {
    return provider;
  }

  @Override
  protected VolumeOptions smallVolume() {
    return new VolumeOptions(Map.of("size", "32MiB"), "test");
  }
}
