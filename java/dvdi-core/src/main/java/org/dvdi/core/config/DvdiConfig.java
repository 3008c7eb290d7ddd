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
  /** Comma-separated host directories under which a container without an image may bind a volume. */
  public static final String CONTAINER_PATH_PREFIXES = "container.path-prefixes";
  /**
   * Data-mount places only: FHS's {@code /srv} (data served by this host) and {@code /mnt}
   * (mounted filesystems), the {@code /data} of the DVDI examples, and {@code /tmp}, where
   * mesos-module-dvdi created container paths. None holds what the host's programs trust.
   */
  public static final String DEFAULT_CONTAINER_PATH_PREFIXES = "/data,/mnt,/srv,/tmp";
  /** Whether a request may ask for {@code overwritefs=true} (which destroys a volume's data). */
  public static final String ALLOW_OVERWRITEFS = "volumes.allow-overwritefs";
  /** Where Mesos binds the sandbox inside an image (the agent's {@code --sandbox_directory}). */
  public static final String SANDBOX_DIRECTORY = "mesos.sandbox-directory";
  public static final String DEFAULT_SANDBOX_DIRECTORY = "/mnt/mesos/sandbox";
  /** The agent's {@code --work_dir}, protected from container paths (as the default, always). */
  public static final String MESOS_WORK_DIR = "mesos.work-dir";
  public static final String DEFAULT_MESOS_WORK_DIR = "/var/lib/mesos";
  /** The agent's {@code --runtime_dir}, protected from container paths (as the default, always). */
  public static final String MESOS_RUNTIME_DIR = "mesos.runtime-dir";
  public static final String DEFAULT_MESOS_RUNTIME_DIR = "/var/run/mesos";
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
        RETRY_INTERVAL, RETRY_MAX, WORKERS, CONTAINER_PATH_PREFIXES, ALLOW_OVERWRITEFS, SANDBOX_DIRECTORY, MESOS_WORK_DIR,
        MESOS_RUNTIME_DIR));
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
  private final boolean allowOverwritefs;
  private final Path sandboxDirectory;
  private final HostTrees hostTrees;

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
    this.allowOverwritefs = settings.getBoolean(ALLOW_OVERWRITEFS, false);
    this.sandboxDirectory = normalPath(SANDBOX_DIRECTORY, settings.getString(SANDBOX_DIRECTORY, DEFAULT_SANDBOX_DIRECTORY));
    if (sandboxDirectory.getNameCount() == 0) {
      throw settings.bad(SANDBOX_DIRECTORY, "/", "the sandbox cannot be the image's root");
    }
    Map<Path, String> extra = new java.util.LinkedHashMap<>();
    extra.put(normalPath(MESOS_WORK_DIR, settings.getString(MESOS_WORK_DIR, DEFAULT_MESOS_WORK_DIR)),
        "the agent's work directory, " + MESOS_WORK_DIR);
    extra.put(normalPath(MESOS_RUNTIME_DIR, settings.getString(MESOS_RUNTIME_DIR, DEFAULT_MESOS_RUNTIME_DIR)),
        "the agent's runtime directory, " + MESOS_RUNTIME_DIR);
    extra.put(stateDir, "dvdi's " + STATE_DIR);
    extra.put(mountRoot, "dvdi's " + MOUNT_ROOT);
    java.util.List<Path> prefixes = new java.util.ArrayList<>();
    for (String item : settings.getString(CONTAINER_PATH_PREFIXES, DEFAULT_CONTAINER_PATH_PREFIXES).split(",", -1)) {
      if (!item.isBlank()) {
        prefixes.add(normalPath(CONTAINER_PATH_PREFIXES, item.strip()));
      }
    }
    this.hostTrees = new HostTrees(prefixes, extra);
    // A prefix may hold a protected tree (which stays refused), not be one or lie inside one.
    for (Path p : prefixes) {
      String inside = hostTrees.inside(p);
      if (inside != null) {
        throw DvdiException.config("setting '" + CONTAINER_PATH_PREFIXES + "' (" + settings.source() + ") lists '"
            + p + "': it is, or lies inside, " + inside + ", which no volume may cover");
      }
    }
  }

  /** An absolute path written in its normal form (no '.', '..', or repeated '/'). */
  private Path normalPath(String key, String value) {
    Path p = Path.of(value);
    if (!p.isAbsolute() || !p.normalize().toString().equals(value.length() > 1 && value.endsWith("/")
        ? value.substring(0, value.length() - 1) : value)) {
      throw settings.bad(key, value, "must be an absolute path in its normal form (no '.', '..' or '//')");
    }
    return p;
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

  /** {@value #ALLOW_OVERWRITEFS}: whether requests may ask for {@code overwritefs=true}. */
  public boolean allowOverwritefs() {
    return allowOverwritefs;
  }

  /** {@value #SANDBOX_DIRECTORY}: where the sandbox is inside an image (absolute, normal). */
  public Path sandboxDirectory() {
    return sandboxDirectory;
  }

  /** The prefixes and protected trees of host paths for containers without an image. */
  public HostTrees hostTrees() {
    return hostTrees;
  }

  public Duration timeout(Step s) {
    return timeouts.get(s);
  }
}
