package org.dvdi.spi.testing;

import java.nio.file.Path;
import java.util.Map;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.Settings;
import org.dvdi.spi.host.Commands;

/** A provider context for tests: settings, an instance id, a mount root. */
public final class TestProviderContext {
  private static final Commands COMMANDS = new Commands();

  private TestProviderContext() {}

  public static ProviderContext of(Path mountRoot, String instance, Map<String, String> settings) {
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
        return instance;
      }

      @Override
      public Path mountRoot() {
        return mountRoot;
      }

      @Override
      public Commands commands() {
        return COMMANDS;
      }
    };
  }
}
