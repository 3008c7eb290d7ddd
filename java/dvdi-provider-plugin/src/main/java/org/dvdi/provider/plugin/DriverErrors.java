package org.dvdi.provider.plugin;

import java.util.Locale;
import java.util.regex.Pattern;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;

/**
 * The one place where what a volume driver says in words becomes an {@link ErrorCode}. The
 * Docker volume plugin protocol has no error codes: a plugin answers {@code {"Err": "..."}}
 * (or, like REX-Ray, HTTP 500 {@code {"Error": "..."}}), and dvdcli prints that text on stderr.
 * Both providers classify that text here, and the plugin provider confirms "the volume is
 * missing" with Get/List before it believes it (see {@link PluginProvider}).
 *
 * <p>The patterns are what Docker's local driver, Docker's plugin client, REX-Ray/libStorage
 * and dvdcli are known to say. Text no pattern matches stays PROVIDER_FAILURE: a wrong
 * VOLUME_NOT_FOUND could make dvdi create a second, empty volume, a wrong PROVIDER_FAILURE
 * only fails one task with the driver's own words.
 */
public final class DriverErrors {
  /** What a driver's error text says happened. */
  public enum Kind {
    /** The volume plugin itself is not there ("plugin not found"): never a missing volume. */
    PLUGIN_MISSING,
    /** The volume does not exist. */
    VOLUME_MISSING,
    /** The volume is in use (mounted, attached to another host). */
    BUSY,
    /** An unmount found nothing mounted. */
    NOT_MOUNTED,
    /** Anything else. */
    OTHER
  }

  private static final Pattern PLUGIN_MISSING = Pattern.compile(
      "plugin not found|no such plugin|error looking up volume plugin|missing volume driver name");
  private static final Pattern NOT_MOUNTED = Pattern.compile(
      "not (currently )?mounted|not attached|no mount(s)? found|is not a mountpoint");
  private static final Pattern VOLUME_MISSING = Pattern.compile(
      "no such volume|not found|not exist|doesn't exist|unable to find|could not find|cannot find");
  private static final Pattern BUSY = Pattern.compile(
      "in use|inuse|busy|is mounted|already mounted|still mounted|attached to|currently attached|still attached");

  private DriverErrors() {}

  /** Classifies a driver's error text; the order settles texts that match several patterns. */
  public static Kind classify(String text) {
    String t = text == null ? "" : text.toLowerCase(Locale.ROOT);
    if (PLUGIN_MISSING.matcher(t).find()) {
      return Kind.PLUGIN_MISSING;
    }
    if (NOT_MOUNTED.matcher(t).find()) {
      return Kind.NOT_MOUNTED;
    }
    if (VOLUME_MISSING.matcher(t).find()) {
      return Kind.VOLUME_MISSING;
    }
    if (BUSY.matcher(t).find()) {
      return Kind.BUSY;
    }
    return Kind.OTHER;
  }

  /** {@code e} again with another code (and the same message and cause). */
  public static DvdiException recode(DvdiException e, ErrorCode code) {
    return e.getCode() == code ? e : new DvdiException(code, e.getMessage(), e);
  }

  /** A driver's text shortened for an error message: one line per line, at most 2000 characters. */
  public static String shorten(String text) {
    String s = text == null ? "" : text.strip();
    return s.length() > 2000 ? s.substring(0, 2000) + "..." : s;
  }
}
