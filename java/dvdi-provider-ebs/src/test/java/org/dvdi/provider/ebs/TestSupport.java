package org.dvdi.provider.ebs;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.testing.TestProviderContext;

/** What every test here needs: a provider context, call contexts, request options. */
final class TestSupport {
  private TestSupport() {}

  static ProviderContext context(Path root, String agent, Map<String, String> values) {
    return TestProviderContext.of(root.resolve("mnt"), agent, values);
  }

  static CallContext ctx(Duration timeout) {
    return CallContext.of(timeout, "test", "test");
  }

  static CallContext ctx() {
    return ctx(Duration.ofSeconds(60));
  }

  static VolumeOptions opts(String... kv) {
    java.util.LinkedHashMap<String, String> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return new VolumeOptions(m, "DVDI_VOLUME_OPTS");
  }

}
