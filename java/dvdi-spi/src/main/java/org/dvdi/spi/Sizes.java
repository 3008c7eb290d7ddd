package org.dvdi.spi;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints sizes. A bare number is GiB, as REX-Ray's {@code size=} option. */
public final class Sizes {
  public static final long KIB = 1024L;
  public static final long MIB = KIB * 1024;
  public static final long GIB = MIB * 1024;
  public static final long TIB = GIB * 1024;

  private static final Pattern SIZE = Pattern.compile("([0-9]{1,12})\\s*([kmgt]?)(i?b?)");

  private Sizes() {}

  public static long parse(String v, String what) {
    Matcher m = SIZE.matcher(v.trim().toLowerCase(Locale.ROOT));
    if (!m.matches() || (m.group(2).isEmpty() && !m.group(3).isEmpty() && !m.group(3).equals("b"))) {
      throw DvdiException.invalid(what + " is '" + Printable.of(v)
          + "': must be a size like 5 (GiB), 512M, 512MiB, 2G or 2GiB");
    }
    long n = Long.parseLong(m.group(1));
    long unit;
    switch (m.group(2)) {
      case "k":
        unit = KIB;
        break;
      case "m":
        unit = MIB;
        break;
      case "g":
        unit = GIB;
        break;
      case "t":
        unit = TIB;
        break;
      default:
        unit = m.group(3).equals("b") ? 1 : GIB;
    }
    if (n > Long.MAX_VALUE / unit) {
      throw DvdiException.invalid(what + " is '" + Printable.of(v) + "': too large");
    }
    return n * unit;
  }

  /** Human form: 1.0GiB, 512MiB, 4.0KiB, 17B. */
  public static String format(long bytes) {
    if (bytes < 0) {
      return "-";
    }
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return i == 0 ? bytes + "B" : (v == Math.floor(v) ? String.format(Locale.ROOT, "%d%s", (long) v, units[i])
        : String.format(Locale.ROOT, "%.1f%s", v, units[i]));
  }
}
