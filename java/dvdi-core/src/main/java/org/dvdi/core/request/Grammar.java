package org.dvdi.core.request;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.Printable;
import org.dvdi.spi.VolumeOptions;

/**
 * The allow-list grammar of requests. Nothing a task writes reaches a command line or a path
 * unless it matches one of these rules; every rejection names the field, the value and the
 * rule.
 */
public final class Grammar {
  /** Volume names: as Docker's ({@code [a-zA-Z0-9][a-zA-Z0-9_.-]}), at most 128 characters. */
  public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
  static final String NAME_RULE = "must be 1-128 characters of letters, digits, '_', '.', '-', starting with a letter or digit";

  /** Driver names (lower-cased first): letters, digits, '_', '.', '-'. */
  public static final Pattern DRIVER = Pattern.compile("[a-z0-9][a-z0-9_.-]{0,63}");
  static final String DRIVER_RULE = "must be 1-64 characters of letters, digits, '_', '.', '-', starting with a letter or digit";

  /** Option keys. */
  public static final Pattern OPTION_KEY = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]{0,63}");
  static final String OPTION_KEY_RULE = "must be 1-64 characters of letters, digits, '_', '.', '-', starting with a letter";

  /** Option values: no separators of the env form (',' '='), no shell or path-escape characters. */
  public static final Pattern OPTION_VALUE = Pattern.compile("[A-Za-z0-9_.:/@+-]{0,1024}");
  static final String OPTION_VALUE_RULE = "may hold only letters, digits and _ . : / @ + - (at most 1024)";

  /** Container paths: characters allowed in any component. */
  public static final Pattern PATH_CHARS = Pattern.compile("[A-Za-z0-9_.@+=:,/-]+");
  static final String PATH_RULE = "may hold only letters, digits and _ . @ + = : , / -";

  /** Linux's NAME_MAX: the most bytes (UTF-8) one component of a path may have. */
  public static final int NAME_MAX = 255;

  /**
   * Linux's PATH_MAX: the size of the buffer the kernel copies a path into, its terminating NUL
   * included, so that a path may have at most {@code PATH_MAX - 1} bytes (UTF-8).
   */
  public static final int PATH_MAX = 4096;

  /** Absolute container paths a volume may not cover. */
  static final String[] RESERVED = {"/proc", "/sys", "/dev"};

  /**
   * What joins a nested container's id to its parent's: "parent.child", as Mesos prints a
   * ContainerID (its {@code operator<<}) and so as the agent's log and API show it.
   */
  public static final char NESTED_ID_SEPARATOR = '.';

  /**
   * One Mesos ContainerID value: letters, digits, '_', '-'. Never the separator: Mesos refuses
   * '.' in a ContainerID value for that very reason (slave/validation.cpp, validateContainerId),
   * so that a joined id names one container ("a" in "b" is "b.a"; a top-level "b.a" cannot be).
   */
  public static final Pattern CONTAINER_ID = Pattern.compile("[A-Za-z0-9_-]{1,1024}");

  private Grammar() {}

  public static String name(String value, String field) {
    if (value == null || !NAME.matcher(value).matches()) {
      throw DvdiException.invalid(field + " is '" + printable(value) + "': a volume name " + NAME_RULE);
    }
    return value;
  }

  public static String driver(String value, String field) {
    String d = value == null ? null : value.toLowerCase(Locale.ROOT);
    if (d == null || !DRIVER.matcher(d).matches()) {
      throw DvdiException.invalid(field + " is '" + printable(value) + "': a driver name " + DRIVER_RULE);
    }
    return d;
  }

  public static String containerId(String value, String field) {
    if (value == null || !CONTAINER_ID.matcher(value).matches()) {
      throw DvdiException.invalid(field + " is '" + printable(value)
          + "': a container id must be 1-1024 characters of letters, digits, '_', '-' (not '"
          + NESTED_ID_SEPARATOR + "', which joins a nested container's id to its parent's, as in Mesos)");
    }
    return value;
  }

  /**
   * Parses {@code k=v,k=v} (the DVDI_VOLUME_OPTS form). Spaces around items, keys and values
   * are dropped and empty items ignored; a control character anywhere is an error.
   */
  public static VolumeOptions optionsFromEnv(String value, String field) {
    Map<String, String> out = new LinkedHashMap<>();
    if (value != null) {
      refuseControlCharacters(value, field);
      for (String item : value.split(",", -1)) {
        String it = withoutSpaces(item);
        if (it.isEmpty()) {
          continue;
        }
        int eq = it.indexOf('=');
        if (eq < 0) {
          throw DvdiException.invalid(field + " item '" + printable(it) + "' has no '=': options are written k=v,k=v");
        }
        option(out, withoutSpaces(it.substring(0, eq)), withoutSpaces(it.substring(eq + 1)), field);
      }
    }
    return new VolumeOptions(out, field);
  }

  /** {@code s} without the ASCII spaces at its ends (nothing else is dropped). */
  private static String withoutSpaces(String s) {
    int a = 0;
    int b = s.length();
    while (a < b && s.charAt(a) == ' ') {
      a++;
    }
    while (b > a && s.charAt(b - 1) == ' ') {
      b--;
    }
    return s.substring(a, b);
  }

  /** Fails naming {@code field} when {@code value} holds a control character (newline, tab, ESC, DEL...). */
  static void refuseControlCharacters(String value, String field) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (Character.isISOControl(c)) {
        throw DvdiException.invalid(field + " is '" + printable(value) + "': it holds a control character ("
            + printable(String.valueOf(c)) + " at position " + i + "), which is never accepted");
      }
    }
  }

  /** Adds one option, checking key, value and duplicates. */
  public static void option(Map<String, String> into, String key, String value, String field) {
    if (!OPTION_KEY.matcher(key).matches()) {
      throw DvdiException.invalid(field + " option key '" + printable(key) + "' " + OPTION_KEY_RULE);
    }
    if (!OPTION_VALUE.matcher(value).matches()) {
      throw DvdiException.invalid(field + " option '" + key + "' is '" + printable(value) + "': a value "
          + OPTION_VALUE_RULE);
    }
    if (into.containsKey(key)) {
      throw DvdiException.invalid(field + " option '" + key + "' is given twice");
    }
    into.put(key, value);
  }

  /**
   * Checks a container path and returns it normalised: absolute ("/data") or relative to the
   * sandbox ("data/in"); never ".." or "." components, never "/" itself or a reserved tree,
   * never longer than the kernel takes ({@link #pathTooLong}, as given: where it resolves is
   * the launch planner's to check).
   */
  public static String containerPath(String value, String field) {
    if (value == null || value.isEmpty()) {
      return "";
    }
    String tooLong = pathTooLong(value);
    if (tooLong != null) {
      throw DvdiException.invalid(field + " is '" + printable(value) + "': a container path " + tooLong);
    }
    if (!PATH_CHARS.matcher(value).matches()) {
      throw DvdiException.invalid(field + " is '" + printable(value) + "': a container path " + PATH_RULE);
    }
    boolean absolute = value.startsWith("/");
    StringBuilder b = new StringBuilder();
    for (String part : value.split("/")) {
      if (part.isEmpty() || part.equals(".")) {
        continue;
      }
      if (part.equals("..")) {
        throw DvdiException.invalid(field + " is '" + printable(value) + "': a container path may not contain '..' "
            + "components (it must stay inside the container)");
      }
      b.append('/').append(part);
    }
    if (b.length() == 0) {
      throw DvdiException.invalid(field + " is '" + printable(value) + "': a volume cannot be mounted over the container's root");
    }
    String norm = absolute ? b.toString() : b.substring(1);
    if (absolute) {
      for (String r : RESERVED) {
        if (norm.equals(r) || norm.startsWith(r + "/")) {
          throw DvdiException.invalid(field + " is '" + printable(value) + "': " + r + " is reserved for the kernel's own filesystems");
        }
      }
    }
    return norm;
  }

  /**
   * Why the kernel would refuse {@code path} as too long, or null when it takes it: a component
   * over {@link #NAME_MAX} bytes, or the whole over {@code PATH_MAX - 1} bytes (in UTF-8). Said
   * as the end of a sentence about a path ("may ..."). The one place for these limits: the
   * container path as given and where it resolves on the host are both held to them.
   */
  public static String pathTooLong(String path) {
    int bytes = utf8Length(path);
    if (bytes > PATH_MAX - 1) {
      return "may have at most " + (PATH_MAX - 1) + " bytes (PATH_MAX " + PATH_MAX
          + ", its terminating NUL included), and this one has " + bytes + " bytes";
    }
    int n = 0;
    for (String part : path.split("/")) {
      if (part.isEmpty()) {
        continue;
      }
      n++;
      int b = utf8Length(part);
      if (b > NAME_MAX) {
        return "may have at most " + NAME_MAX + " bytes in one component (NAME_MAX), and its component " + n
            + " has " + b + " bytes";
      }
    }
    return null;
  }

  private static int utf8Length(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }

  /** A value shown in an error or a log line: see {@link Printable#of}. */
  public static String printable(String v) {
    return Printable.of(v);
  }
}
