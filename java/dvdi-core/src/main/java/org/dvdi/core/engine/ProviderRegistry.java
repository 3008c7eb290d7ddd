package org.dvdi.core.engine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.Commands;

/**
 * The providers: factories found with {@link ServiceLoader} from one explicit class loader,
 * and one provider instance per driver name, made on first use. A driver name resolves to
 * the type named by {@code drivers.<driver>}, else to the factory of that name, else to the
 * factory that serves any driver (the Docker volume plugin provider).
 */
public final class ProviderRegistry implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ProviderRegistry.class.getName());

  private final DvdiConfig config;
  private final Commands commands;
  private final Map<String, ProviderFactory> factories = new TreeMap<>();
  private final ProviderFactory fallback;
  private final ConcurrentHashMap<String, VolumeProvider> byDriver = new ConcurrentHashMap<>();

  /** The provider types on {@code loader}'s class path (META-INF/services). */
  public ProviderRegistry(DvdiConfig config, Commands commands, ClassLoader loader) {
    this(config, commands, ServiceLoader.load(ProviderFactory.class, loader));
  }

  /** The provider types {@code types} (the simulation's, in its tests). */
  public ProviderRegistry(DvdiConfig config, Commands commands, Iterable<ProviderFactory> types) {
    this.config = config;
    this.commands = commands;
    ProviderFactory any = null;
    for (ProviderFactory f : types) {
      if (factories.putIfAbsent(f.getName(), f) != null) {
        throw DvdiException.config("two storage providers are named '" + f.getName() + "': "
            + factories.get(f.getName()).getClass().getName() + " and " + f.getClass().getName());
      }
      if (f.servesAnyDriver()) {
        any = f;
      }
    }
    if (factories.isEmpty()) {
      throw DvdiException.config("no storage provider found on the class path (META-INF/services/"
          + ProviderFactory.class.getName() + "): is the dvdi jar complete?");
    }
    this.fallback = any;
    for (Map.Entry<String, String> e : config.settings().under("drivers").asMap().entrySet()) {
      if (!factories.containsKey(e.getValue())) {
        throw config.settings().bad(DvdiConfig.DRIVERS_PREFIX + e.getKey(), e.getValue(),
            "must name a provider type: " + String.join(", ", factories.keySet()));
      }
    }
    for (String type : config.settings().under("providers").asMap().keySet()) {
      String t = type.contains(".") ? type.substring(0, type.indexOf('.')) : type;
      if (!factories.containsKey(t)) {
        // The value is not shown: it may be a secret under a misspelt provider type.
        throw DvdiException.config("setting '" + DvdiConfig.PROVIDERS_PREFIX + type + "' (" + config.settings().source()
            + "): '" + t + "' is not a provider type: " + String.join(", ", factories.keySet()));
      }
    }
    LOG.info("storage providers: " + String.join(", ", factories.keySet()));
  }

  /** Provider types installed. */
  public List<String> types() {
    return new ArrayList<>(factories.keySet());
  }

  /** The provider type that serves {@code driver}, or null when none does. */
  public String typeOf(String driver) {
    String mapped = config.settings().get(DvdiConfig.DRIVERS_PREFIX + driver).orElse(null);
    if (mapped != null) {
      return mapped;
    }
    if (factories.containsKey(driver)) {
      return driver;
    }
    return fallback == null ? null : fallback.getName();
  }

  /** The provider of {@code driver}; INVALID_REQUEST when no provider serves it. */
  public VolumeProvider get(String driver) {
    VolumeProvider p = byDriver.get(driver);
    if (p != null) {
      return p;
    }
    String type = typeOf(driver);
    if (type == null) {
      throw DvdiException.invalid("unknown volume driver '" + driver + "': no provider of that name ("
          + String.join(", ", factories.keySet()) + "), no drivers." + driver + " setting, and no Docker volume plugin provider");
    }
    return byDriver.computeIfAbsent(driver, d -> create(d, factories.get(type)));
  }

  private VolumeProvider create(String driver, ProviderFactory f) {
    Settings own = config.settings().under("providers." + f.getName());
    ProviderContext ctx = new ProviderContext() {
      @Override
      public Settings settings() {
        return own;
      }

      @Override
      public Settings globalSettings() {
        return config.settings();
      }

      @Override
      public String instanceId() {
        return config.instanceId();
      }

      @Override
      public Path mountRoot() {
        return config.mountRoot();
      }

      @Override
      public Commands commands() {
        return commands;
      }
    };
    VolumeProvider p = f.create(driver, ctx);
    LOG.info("provider for driver '" + driver + "': " + f.getName());
    return p;
  }

  /**
   * Makes, ahead of the first request, the providers the configuration names (every
   * {@code drivers.<driver>}, and each provider type with settings of its own), so that their
   * start-up cost (an SDK's, a connection's) is not paid by a task. Failures are logged; the
   * first request for that driver reports them again.
   */
  public void makeConfigured() {
    java.util.Set<String> drivers = new java.util.TreeSet<>(config.settings().under("drivers").asMap().keySet());
    for (String key : config.settings().under("providers").asMap().keySet()) {
      String type = key.contains(".") ? key.substring(0, key.indexOf('.')) : key;
      if (factories.containsKey(type) && !factories.get(type).servesAnyDriver()) {
        drivers.add(type);
      }
    }
    for (String d : drivers) {
      try {
        get(d);
      } catch (RuntimeException e) {
        LOG.warning("provider for driver '" + d + "' could not be made: " + e.getMessage());
      }
    }
  }

  /** The providers made so far. */
  public Map<String, VolumeProvider> active() {
    return new TreeMap<>(byDriver);
  }

  @Override
  public void close() {
    for (VolumeProvider p : byDriver.values()) {
      try {
        p.close();
      } catch (Exception e) {
        LOG.warning("closing provider " + p.driver() + ": " + e);
      }
    }
  }
}
