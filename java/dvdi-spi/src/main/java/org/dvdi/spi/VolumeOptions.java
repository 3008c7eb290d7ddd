package org.dvdi.spi;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Options of a volume request ({@code DVDI_VOLUME_OPTS=k=v,...} or {@code driver_options}),
 * already checked against the allow-list grammar. Typed getters name the option in their
 * errors.
 */
public final class VolumeOptions {
  public static final VolumeOptions EMPTY = new VolumeOptions(Map.of(), "options");

  private final Map<String, String> values;
  private final String origin;
  private final boolean explicitCreate;

  /**
   * @param values option keys and values, in the order given
   * @param origin where they came from, used in error messages (e.g. "DVDI_VOLUME_OPTS1")
   */
  public VolumeOptions(Map<String, String> values, String origin) {
    this(values, origin, false);
  }

  private VolumeOptions(Map<String, String> values, String origin, boolean explicitCreate) {
    this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    this.origin = origin;
    this.explicitCreate = explicitCreate;
  }

  /**
   * Whether the request forbids creating a missing volume ({@code DVDI_VOLUME_EXPLICITCREATE}).
   * dvdi checks it itself for providers that can inspect; a provider that creates volumes as
   * a side effect of mounting (dvdcli) must honour it.
   */
  public boolean explicitCreate() {
    return explicitCreate;
  }

  public VolumeOptions withExplicitCreate(boolean explicit) {
    return new VolumeOptions(values, origin, explicit);
  }

  /**
   * These options without {@code keys} (same origin, same explicit-create flag): e.g. what may
   * be stored for a later remount, without the one-shot options that must never be repeated.
   */
  public VolumeOptions without(Collection<String> keys) {
    Map<String, String> kept = new LinkedHashMap<>(values);
    kept.keySet().removeAll(keys);
    return new VolumeOptions(kept, origin, explicitCreate);
  }

  public Map<String, String> asMap() {
    return values;
  }

  public String origin() {
    return origin;
  }

  public Optional<String> get(String key) {
    return Optional.ofNullable(values.get(key));
  }

  public boolean isEmpty() {
    return values.isEmpty();
  }

  /** A boolean option: true/false, yes/no, 1/0 (any case). */
  public boolean getBoolean(String key, boolean dflt) {
    String v = values.get(key);
    if (v == null) {
      return dflt;
    }
    return parseBoolean(v, origin + " option '" + key + "'");
  }

  /** A whole non-negative number. */
  public long getLong(String key, long dflt) {
    String v = values.get(key);
    if (v == null) {
      return dflt;
    }
    try {
      long n = Long.parseLong(v);
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw DvdiException.invalid(origin + " option '" + key + "' is '" + Printable.of(v)
          + "': must be a whole number >= 0");
    }
  }

  /**
   * A size: a bare number means GiB (as REX-Ray's {@code size=}); else a number with a unit
   * K, M, G, T (powers of 1024, optional "i" and "B": 512M, 512MiB, 2G, 2GiB).
   */
  public long getSizeBytes(String key, long dfltBytes) {
    String v = values.get(key);
    if (v == null) {
      return dfltBytes;
    }
    return Sizes.parse(v, origin + " option '" + key + "'");
  }

  /** Fails with INVALID_REQUEST naming every key not in {@code allowed}. */
  public void requireOnly(Set<String> allowed, String driver) {
    StringBuilder bad = new StringBuilder();
    for (String k : values.keySet()) {
      if (!allowed.contains(k)) {
        bad.append(bad.length() == 0 ? "" : ", ").append('\'').append(k).append('\'');
      }
    }
    if (bad.length() > 0) {
      throw DvdiException.invalid(origin + ": unknown option " + bad + " for driver '" + driver
          + "' (it accepts: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
    }
  }

  public static boolean parseBoolean(String v, String what) {
    Boolean b = booleanOrNull(v);
    if (b == null) {
      throw DvdiException.invalid(what + " is '" + Printable.of(v) + "': must be true or false");
    }
    return b;
  }

  /** true/yes/1 or false/no/0 (any case); null for anything else. */
  static Boolean booleanOrNull(String v) {
    switch (v.toLowerCase(Locale.ROOT)) {
      case "true":
      case "yes":
      case "1":
        return true;
      case "false":
      case "no":
      case "0":
        return false;
      default:
        return null;
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VolumeOptions && ((VolumeOptions) o).values.equals(values);
  }

  @Override
  public int hashCode() {
    return values.hashCode();
  }

  @Override
  public String toString() {
    return values.toString();
  }
}
