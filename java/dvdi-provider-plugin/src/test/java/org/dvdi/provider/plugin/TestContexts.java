package org.dvdi.provider.plugin;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.Settings;
import org.dvdi.spi.host.Commands;

/** Provider contexts and call contexts for the tests of this module. */
public final class TestContexts {
  public static final String HOST = "host-a";
  private static final Commands COMMANDS = new Commands();

  private TestContexts() {}

  public static ProviderContext of(Map<String, String> settings) {
    Settings s = new Settings(settings, "test");
    return new ProviderContext() {
      @Override
      public Settings settings() {
        return s;
      }

      @Override
      public Settings globalSettings() {
        return Settings.empty();
      }

      @Override
      public String instanceId() {
        return HOST;
      }

      @Override
      public Path mountRoot() {
        return Path.of("/nonexistent-mount-root");
      }

      @Override
      public Commands commands() {
        return COMMANDS;
      }
    };
  }

  public static CallContext ctx(long millis) {
    return CallContext.of(Duration.ofMillis(millis), "test call", HOST);
  }
}
