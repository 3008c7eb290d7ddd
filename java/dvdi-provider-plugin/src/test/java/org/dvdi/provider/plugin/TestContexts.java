package org.dvdi.provider.plugin;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.testing.TestProviderContext;

/** Provider contexts and call contexts for the tests of this module. */
public final class TestContexts {
  public static final String HOST = "host-a";

  private TestContexts() {}

  public static ProviderContext of(Map<String, String> settings) {
    return TestProviderContext.of(Path.of("/nonexistent-mount-root"), HOST, settings);
  }

  public static CallContext ctx(long millis) {
    return CallContext.of(Duration.ofMillis(millis), "test call", HOST);
  }
}
