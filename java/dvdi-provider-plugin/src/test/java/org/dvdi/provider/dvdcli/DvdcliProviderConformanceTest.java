package org.dvdi.provider.dvdcli;

import java.nio.file.Path;
import java.util.Map;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.testing.ProviderConformance;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dvdcli provider against the shared conformance suite, with a fake dvdcli. dvdcli cannot
 * inspect or list ({@link #inspects()} is false), so the suite skips only those
 * assertions; a missing volume is still VOLUME_NOT_FOUND with explicit creation.
 */
class DvdcliProviderConformanceTest extends ProviderConformance {
  @TempDir
  static Path tmp;

  static VolumeProvider provider;

  @BeforeAll
  static void install() throws Exception {
    provider = FakeDvdcli.install(tmp, "rexray").provider("rexray");
  }

  @Override
  protected VolumeProvider provider() {
    return provider;
  }

  @Override
  protected boolean inspects() {
    return false; // dvdcli has no inspect or list of its own
  }

  @Override
  protected VolumeOptions smallVolume() {
    return new VolumeOptions(Map.of("size", "1"), "test");
  }
}
