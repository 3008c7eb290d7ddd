package org.dvdi.core.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.Settings;
import org.dvdi.spi.host.HostInfo;

/**
 * dvdi's configuration: the config file (Java properties, {@code key = value}) with module
 * parameters or CLI flags on top, and the defaults. Every core key and default is here.
 */
public final class DvdiConfig {
  /** Where the config file is looked for when none is named. A missing default file is fine. */
  public static final String DEFAULT_FILE = "/etc/dvdi/dvdi.properties";
  /** Environment variable that names the config file (for the CLI). */
  public static final String ENV_CONFIG = "DVDI_CONFIG";

  public static final String STATE_DIR = "state.dir";
  public static final String DEFAULT_STATE_DIR = "/var/lib/dvdi/state";
  public static final String MOUNT_ROOT = "mount.root";
  public static final String DEFAULT_MOUNT_ROOT = "/var/lib/dvdi/volumes";
  public static final String INSTANCE_ID = "instance.id";
  public static final String DEFAULT_DRIVER = "driver.default";
  public static final String DEFAULT_DRIVER_VALUE = "rexray";
  public static final String TIMEOUT_PREFIX = "timeout.";
  public static final String LOCK_TIMEOUT = "state.lock-timeout";
  /** The first retry of a failed release comes this long after it; each failure doubles the wait. */
  public static final String RETRY_INTERVAL = "release.retry-interval";
  public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofSeconds(10);
  /** The longest wait between retries of a failed release. */
  public static final String RETRY_MAX = "release.retry-max";
  public static final Duration DEFAULT_RETRY_MAX = Duration.ofMinutes(10);
  public static final String WORKERS = "workers";
  /** {@code drivers.<driver> = <provider type>}: which provider serves a driver name. */
  public static final String DRIVERS_PREFIX = "drivers.";
  /** {@code providers.<type>.<key>}: a provider's own settings. */
  public static final String PROVIDERS_PREFIX = "providers.";

  /** Provider steps, each with its own timeout ({@code timeout.<step>}). */
  public enum Step {
    INSPECT(Duration.ofSeconds(30)),
    LIST(Duration.ofSeconds(30)),
    CREATE(Duration.ofSeconds(120)),
    ATTACH(Duration.ofSeconds(120)),
    MOUNT(Duration.ofSeconds(120)),
    UNMOUNT(Duration.ofSeconds(120)),
    DETACH(Duration.ofSeconds(120)),
    REMOVE(Duration.ofSeconds(120));

    final Duration dflt;

    Step(Duration d) {
      this.dflt = d;
    }

    public String key() {
      return TIMEOUT_PREFIX + name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private static final Set<String> KEYS;

  static {
    Set<String> k = new java.util.HashSet<>(Set.of(STATE_DIR, MOUNT_ROOT, INSTANCE_ID, DEFAULT_DRIVER, LOCK_TIMEOUT,
        RETRY_INTERVAL, RETRY_MAX, WORKERS));
    for (Step s : Step.values()) {
      k.add(s.key());
    }
    KEYS = Set.copyOf(k);
  }

  private final Settings settings;
  private final Path stateDir;
  private final Path mountRoot;
  private final String instanceId;
  private final String defaultDriver;
  private final Duration lockTimeout;
  private final Duration retryInterval;
  private final Duration retryMax;
  private final int workers;
  private final Map<Step, Duration> timeouts = new HashMap<>();

  public DvdiConfig(Settings settings) {
    this.settings = settings;
    for (String k : settings.asMap().keySet()) {
      if (!KEYS.contains(k) && !k.startsWith(DRIVERS_PREFIX) && !k.startsWith(PROVIDERS_PREFIX)) {
        throw DvdiException.config("unknown setting '" + k + "' (" + settings.source() + "); known: "
            + String.join(", ", new java.util.TreeSet<>(KEYS)) + ", " + DRIVERS_PREFIX + "<driver>, "
            + PROVIDERS_PREFIX + "<type>.<key>");
      }
    }
    this.stateDir = settings.getPath(STATE_DIR, DEFAULT_STATE_DIR);
    this.mountRoot = settings.getPath(MOUNT_ROOT, DEFAULT_MOUNT_ROOT);
    String dfltInstance = HostInfo.hostname()
        + (stateDir.toString().equals(DEFAULT_STATE_DIR) ? "" : ":" + stateDir);
    this.instanceId = settings.getString(INSTANCE_ID, dfltInstance);
    this.defaultDriver = settings.getString(DEFAULT_DRIVER, DEFAULT_DRIVER_VALUE).toLowerCase(java.util.Locale.ROOT);
    this.lockTimeout = settings.getDuration(LOCK_TIMEOUT, Duration.ofSeconds(30));
    this.retryInterval = settings.getDuration(RETRY_INTERVAL, DEFAULT_RETRY_INTERVAL);
    this.retryMax = settings.getDuration(RETRY_MAX,
        DEFAULT_RETRY_MAX.compareTo(retryInterval) < 0 ? retryInterval : DEFAULT_RETRY_MAX);
    if (retryMax.compareTo(retryInterval) < 0) {
      throw DvdiException.config(RETRY_MAX + " (" + retryMax.toMillis() + " ms) must not be shorter than "
          + RETRY_INTERVAL + " (" + retryInterval.toMillis() + " ms)");
    }
    this.workers = settings.getInt(WORKERS, 32, 2, 1024);
    for (Step s : Step.values()) {
      timeouts.put(s, settings.getDuration(s.key(), s.dflt));
    }
  }

  /**
   * Loads the config file and applies {@code overrides} on top.
   *
   * @param file the file, or null for {@link #DEFAULT_FILE} (which may be missing)
   */
  public static DvdiConfig load(Path file, Map<String, String> overrides) {
    Map<String, String> values = new HashMap<>();
    Path f = file == null ? Path.of(DEFAULT_FILE) : file;
    String source;
    try (Reader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
      Properties p = new Properties();
      p.load(r);
      for (String k : p.stringPropertyNames()) {
        values.put(k, p.getProperty(k));
      }
      source = f.toString();
    } catch (NoSuchFileException e) {
      if (file != null) {
        throw DvdiException.config("config file " + f + " does not exist");
      }
      source = "built-in defaults";
    } catch (IOException | IllegalArgumentException e) {
      throw DvdiException.config("cannot read config file " + f + ": " + e.getMessage());
    }
    if (!overrides.isEmpty()) {
      values.putAll(overrides);
      source = source + " + parameters";
    }
    return new DvdiConfig(new Settings(values, source));
  }

  public Settings settings() {
    return settings;
  }

  public Path stateDir() {
    return stateDir;
  }

  public Path mountRoot() {
    return mountRoot;
  }

  public String instanceId() {
    return instanceId;
  }

  public String defaultDriver() {
    return defaultDriver;
  }

  public Duration lockTimeout() {
    return lockTimeout;
  }

  public Duration retryInterval() {
    return retryInterval;
  }

  public Duration retryMax() {
    return retryMax;
  }

  /** Threads per driver for volume operations (each driver has its own pool). */
  public int workers() {
    return workers;
  }

  public Duration timeout(Step s) {
    return timeouts.get(s);
  }
}
