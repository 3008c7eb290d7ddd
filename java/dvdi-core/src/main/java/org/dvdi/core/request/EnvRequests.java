package org.dvdi.core.request;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeOptions;

/**
 * The DVDI environment variables, exactly as users of mesos-module-dvdi write them:
 * {@code DVDI_VOLUME_NAME}, {@code _DRIVER}, {@code _OPTS}, {@code _CONTAINERPATH},
 * {@code _EXPLICITCREATE}, and dvdi's {@code _READONLY}, bare or with a suffix 1..9.
 */
public final class EnvRequests {
  /** The prefix every DVDI variable starts with. */
  public static final String PREFIX = "DVDI_VOLUME_";
  public static final String NAME = "NAME";
  public static final String DRIVER = "DRIVER";
  public static final String OPTS = "OPTS";
  public static final String CONTAINERPATH = "CONTAINERPATH";
  public static final String EXPLICITCREATE = "EXPLICITCREATE";
  public static final String READONLY = "READONLY";
  /** Refused: which binary runs as root is the operator's choice (providers.dvdcli.path). */
  public static final String DVDCLI = "DVDCLI";
  /** Exported to a task for each volume it did not bind: where the volume is on the host. */
  public static final String HOSTPATH_EXPORT = "DVDI_HOSTPATH";

  static final List<String> FIELDS = List.of(NAME, DRIVER, OPTS, CONTAINERPATH, EXPLICITCREATE, READONLY);
  private static final Pattern VAR = Pattern.compile(Pattern.quote(PREFIX) + "([A-Z]+?)([0-9]*)");

  private EnvRequests() {}

  /**
   * Parses the DVDI variables of {@code env} (other variables are ignored) into volume
   * requests, in suffix order. A variable that starts with {@code DVDI_VOLUME_} but is not one
   * of these is an error naming it: a typo must not silently drop a volume.
   */
  public static List<VolumeRequest> parse(Map<String, String> env, String defaultDriver) {
    Map<String, Map<String, String>> bySuffix = new TreeMap<>();
    for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
      String var = e.getKey();
      if (!var.startsWith(PREFIX)) {
        continue;
      }
      Matcher m = VAR.matcher(var);
      String field = m.matches() ? m.group(1) : "";
      String suffix = m.matches() ? m.group(2) : "";
      if (field.equals(DVDCLI)) {
        throw DvdiException.invalid(Grammar.printable(var) + " is refused: the dvdcli binary that runs as root is chosen by the "
            + "operator (setting providers.dvdcli.path), never by a task");
      }
      if (!FIELDS.contains(field)) {
        throw DvdiException.invalid(Grammar.printable(var) + " is not a DVDI variable; known: " + PREFIX + "{"
            + String.join(",", FIELDS) + "} with an optional suffix 1-9");
      }
      if (!suffix.isEmpty() && !suffix.matches("[1-9]")) {
        throw DvdiException.invalid(Grammar.printable(var) + " has suffix '" + Grammar.printable(suffix) + "': suffixes are a single digit 1-9 (10 volumes at most)");
      }
      bySuffix.computeIfAbsent(suffix, k -> new TreeMap<>()).put(field, e.getValue());
    }
    List<VolumeRequest> out = new ArrayList<>();
    for (Map.Entry<String, Map<String, String>> e : bySuffix.entrySet()) {
      String sfx = e.getKey();
      Map<String, String> f = e.getValue();
      String nameVar = PREFIX + NAME + sfx;
      if (!f.containsKey(NAME)) {
        String given = PREFIX + f.keySet().iterator().next() + sfx;
        throw DvdiException.invalid(given + " is given without " + nameVar);
      }
      String name = Grammar.name(f.get(NAME), nameVar);
      String driver = f.containsKey(DRIVER) && !f.get(DRIVER).isEmpty()
          ? Grammar.driver(f.get(DRIVER), PREFIX + DRIVER + sfx) : defaultDriver;
      VolumeOptions opts = Grammar.optionsFromEnv(f.get(OPTS), PREFIX + OPTS + sfx);
      String pathVar = PREFIX + CONTAINERPATH + sfx;
      String path = Grammar.containerPath(f.get(CONTAINERPATH), pathVar);
      boolean explicit = f.containsKey(EXPLICITCREATE)
          && VolumeOptions.parseBoolean(f.get(EXPLICITCREATE), PREFIX + EXPLICITCREATE + sfx);
      boolean ro = f.containsKey(READONLY) && VolumeOptions.parseBoolean(f.get(READONLY), PREFIX + READONLY + sfx);
      out.add(new VolumeRequest(driver, name, opts.withExplicitCreate(explicit), path, ro, explicit, nameVar, sfx,
          pathVar));
    }
    return out;
  }
}
