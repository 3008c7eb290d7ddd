package org.dvdi.spi;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Operator settings (config file plus module parameters): string keys and values with typed
 * getters. A bad value fails with INVALID_CONFIG naming the key, the value and the rule.
 */
public final class Settings {
  private static final Pattern DURATION = Pattern.compile("([0-9]{1,9})(ms|s|m|h)?");

  private final Map<String, String> values;
  private final String source;

  public Settings(Map<String, String> values, String source) {
    this.values = Collections.unmodifiableMap(new TreeMap<>(values));
    this.source = source;
  }

  public static Settings empty() {
    return new Settings(Map.of(), "defaults");
  }

  public Map<String, String> asMap() {
    return values;
  }

  /** Where the settings came from, for errors. */
  public String source() {
    return source;
  }

  /** The settings under {@code prefix + "."}, with the prefix removed. */
  public Settings under(String prefix) {
    Map<String, String> sub = new TreeMap<>();
    String p = prefix + ".";
    values.forEach((k, v) -> {
      if (k.startsWith(p)) {
        sub.put(k.substring(p.length()), v);
      }
    });
    return new Settings(sub, source + " [" + prefix + ".*]");
  }

  public Optional<String> get(String key) {
    String v = values.get(key);
    return v == null || v.isBlank() ? Optional.empty() : Optional.of(v.trim());
  }

  public String getString(String key, String dflt) {
    return get(key).orElse(dflt);
  }

  public boolean getBoolean(String key, boolean dflt) {
    Optional<String> v = get(key);
    if (v.isEmpty()) {
      return dflt;
    }
    Boolean b = VolumeOptions.booleanOrNull(v.get());
    if (b == null) {
      throw bad(key, v.get(), "must be true or false");
    }
    return b;
  }

  public int getInt(String key, int dflt, int min, int max) {
    Optional<String> v = get(key);
    if (v.isEmpty()) {
      return dflt;
    }
    try {
      int n = Integer.parseInt(v.get());
      if (n < min || n > max) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw bad(key, v.get(), "must be a whole number from " + min + " to " + max);
    }
  }

  /** A duration: a number with ms, s, m or h (a bare number is seconds). */
  public Duration getDuration(String key, Duration dflt) {
    Optional<String> v = get(key);
    if (v.isEmpty()) {
      return dflt;
    }
    Matcher m = DURATION.matcher(v.get());
    if (!m.matches()) {
      throw bad(key, v.get(), "must be a duration like 500ms, 30s, 2m or 1h");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    Duration d = unit.equals("ms") ? Duration.ofMillis(n)
        : unit.equals("s") ? Duration.ofSeconds(n)
        : unit.equals("m") ? Duration.ofMinutes(n) : Duration.ofHours(n);
    if (d.isZero()) {
      throw bad(key, v.get(), "must be greater than zero");
    }
    return d;
  }

  /** An absolute path. */
  public Path getPath(String key, String dflt) {
    String v = getString(key, dflt);
    if (v == null) {
      return null;
    }
    Path p = Path.of(v);
    if (!p.isAbsolute()) {
      throw bad(key, v, "must be an absolute path");
    }
    return p.normalize();
  }

  /** A size, as {@link Sizes#parse}. */
  public long getSize(String key, long dflt) {
    Optional<String> v = get(key);
    if (v.isEmpty()) {
      return dflt;
    }
    try {
      return Sizes.parse(v.get(), key);
    } catch (DvdiException e) {
      throw bad(key, v.get(), "must be a size like 5 (GiB), 512MiB or 2GiB");
    }
  }

  /** Fails with INVALID_CONFIG naming every key not in {@code known} (typos must not pass). */
  public void requireOnly(java.util.Set<String> known) {
    for (String k : values.keySet()) {
      if (!known.contains(k)) {
        throw DvdiException.config("unknown setting '" + k + "' (" + source + "); known: "
            + String.join(", ", new java.util.TreeSet<>(known)));
      }
    }
  }

  public DvdiException bad(String key, String value, String rule) {
    return DvdiException.config("setting '" + key + "' (" + source + ") is '" + value + "': " + rule);
  }
}
