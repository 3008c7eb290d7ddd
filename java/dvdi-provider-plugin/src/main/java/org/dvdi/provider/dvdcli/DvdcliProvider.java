package org.dvdi.provider.dvdcli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.dvdi.provider.plugin.DriverErrors;
import org.dvdi.provider.plugin.DriverErrors.Kind;
import org.dvdi.provider.plugin.PluginProvider;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.Commands;

/**
 * dvdcli (0.2), the Docker volume driver CLI that mesos-module-dvdi and Mesos's
 * {@code docker/volume} isolator ran, for installations that want the same path to their
 * plugin: {@code drivers.rexray = dvdcli}. The binary is the operator's ({@code
 * providers.dvdcli.path}, checked when the provider is made), never a task's. Each call runs
 * it once through {@link Commands}: an argument vector (no shell, so option values reach
 * dvdcli byte for byte), a clean environment, the call's remaining time as the timeout (then
 * it is killed with its children).
 *
 * <p><b>What dvdcli cannot do.</b> It has no inspect or list. {@link #inspect} therefore runs
 * nothing and answers status "unknown": the core then never calls create, and {@link #mount}
 * does what dvdcli always did, creating a missing volume with the request's options, or,
 * when the request asks for explicit creation, passing {@code --explicitcreate} so that
 * dvdcli fails for a missing volume (mapped to VOLUME_NOT_FOUND). dvdcli's {@code path} is
 * used only after a mount that printed no path: like {@code unmount}, it calls the plugin's
 * Create first, so as an inspect it would create volumes with default options. {@link #list}
 * fails with INVALID_REQUEST; the plugin provider can list. {@link #create} and {@link #remove}
 * run dvdcli's own {@code create} and {@code remove} (for operator commands; the core never
 * creates through this provider). An unmount that dvdcli answers with "not mounted" or "no such
 * volume" is success; note that dvdcli 0.2's {@code unmount} itself calls Create first, so for
 * a volume that never existed a real plugin may create it: use the plugin provider to avoid it.
 *
 * <p>dvdcli splits option values at ',' and '=' (its flag parser), so {@link #validate}
 * refuses values with them rather than let them be mangled.
 */
public final class DvdcliProvider implements VolumeProvider {
  private static final Logger LOG = Logger.getLogger(DvdcliProvider.class.getName());

  /** Settings ({@code providers.dvdcli.*}). */
  public static final String SET_PATH = "path";
  public static final String DEFAULT_PATH = "/usr/bin/dvdcli";
  public static final Set<String> SETTINGS = Set.of(SET_PATH);

  /** The status {@link #inspect} answers: dvdcli cannot tell. */
  public static final String STATUS_UNKNOWN = "unknown";

  private static final Pattern NAME = PluginProvider.NAME;
  /** What survives dvdcli's option parsing unchanged: no ',', '=', quotes or white space. */
  private static final Pattern OPTION_PART = Pattern.compile("[^,=\"'\\s]*");

  private final String driver;
  private final String binary;
  private final Commands commands;

  DvdcliProvider(String driver, ProviderContext ctx) {
    if (!NAME.matcher(driver).matches()) {
      throw DvdiException.invalid("volume driver '" + driver + "' is not a valid driver name for dvdcli");
    }
    Settings s = ctx.settings();
    s.requireOnly(SETTINGS);
    Path bin = s.getPath(SET_PATH, DEFAULT_PATH);
    if (!Files.isRegularFile(bin) || !Files.isExecutable(bin)) {
      throw s.bad(SET_PATH, bin.toString(), "must be an executable file (the dvdcli binary)");
    }
    this.driver = driver;
    this.binary = bin.toString();
    this.commands = ctx.commands();
  }

  @Override
  public String driver() {
    return driver;
  }

  /** dvdcli does not tell the plugin's scope; it serves external volumes (REX-Ray), so global. */
  @Override
  public Capabilities capabilities() {
    return new Capabilities(false);
  }

  @Override
  public void validate(String name, VolumeOptions options) {
    if (!NAME.matcher(name).matches()) {
      throw DvdiException.invalid("volume name '" + name + "' is not valid for dvdcli driver '" + driver
          + "': 1-128 letters, digits, '_', '.', '-', starting with a letter or digit");
    }
    options.asMap().forEach((k, v) -> {
      if (k.isEmpty() || !OPTION_PART.matcher(k).matches() || !OPTION_PART.matcher(v).matches()) {
        throw DvdiException.invalid(options.origin() + " option '" + k + "=" + v + "' cannot be passed through dvdcli"
            + " (driver '" + driver + "'): dvdcli splits option keys and values at ',' and '=' and takes no quotes or spaces");
      }
    });
  }

  /** Runs nothing: dvdcli cannot inspect, so the answer is "unknown" (see the class comment). */
  @Override
  public Optional<VolumeInfo> inspect(String name, CallContext ctx) {
    return Optional.of(new VolumeInfo(driver, name, "", -1, STATUS_UNKNOWN, "",
        Map.of("note", "dvdcli cannot inspect volumes; mount creates a missing one unless explicit creation is asked")));
  }

  @Override
  public List<VolumeInfo> list(CallContext ctx) {
    throw DvdiException.invalid("driver '" + driver + "' is served by dvdcli, which cannot list volumes; "
        + "use the plugin provider for it (drivers." + driver + " = plugin) to list them");
  }

  @Override
  public VolumeInfo create(String name, VolumeOptions options, CallContext ctx) {
    validate(name, options);
    Commands.Result r = commands.run(argv("create", name, options, false), ctx);
    if (!r.ok()) {
      throw failed("create", name, r, Set.of());
    }
    LOG.info("created volume " + driver + "/" + name + " with dvdcli");
    return new VolumeInfo(driver, name, "", -1, "created", "", Map.of());
  }

  @Override
  public MountedVolume mount(String name, VolumeOptions options, Attachment attachment, CallContext ctx) {
    boolean explicit = options.explicitCreate();
    Commands.Result r = commands.run(argv("mount", name, options, explicit), ctx);
    if (!r.ok()) {
      throw failed("mount", name, r, explicit ? Set.of(Kind.VOLUME_MISSING, Kind.BUSY) : Set.of(Kind.BUSY));
    }
    String path = lastLine(r.stdout());
    if (path.isEmpty()) {
      Commands.Result p = commands.run(argv("path", name, VolumeOptions.EMPTY, false), ctx);
      path = p.ok() ? lastLine(p.stdout()) : "";
    }
    if (!path.startsWith("/")) {
      throw DvdiException.provider("dvdcli mounted volume " + driver + "/" + name + " but printed no absolute mount point ("
          + String.join(" ", r.argv()) + " printed '" + DriverErrors.shorten(r.stdout()) + "')");
    }
    return new MountedVolume(Path.of(path).normalize().toString(), "", Map.of());
  }

  /** Not mounted, or no such volume, is success: unmount is idempotent. */
  @Override
  public void unmount(VolumeHandle volume, CallContext ctx) {
    Commands.Result r = commands.run(argv("unmount", volume.name(), VolumeOptions.EMPTY, false), ctx);
    if (!r.ok()) {
      Kind k = DriverErrors.classify(r.stderr() + "\n" + r.stdout());
      if (k == Kind.NOT_MOUNTED || k == Kind.VOLUME_MISSING) {
        LOG.fine(() -> "dvdcli unmount of " + driver + "/" + volume.name() + ": nothing to unmount (" + r.diagnostics() + ")");
        return;
      }
      throw failed("unmount", volume.name(), r, Set.of());
    }
  }

  @Override
  public void remove(String name, CallContext ctx) {
    Commands.Result r = commands.run(argv("remove", name, VolumeOptions.EMPTY, false), ctx);
    if (!r.ok()) {
      throw failed("remove", name, r, Set.of(Kind.VOLUME_MISSING, Kind.BUSY));
    }
    LOG.info("removed volume " + driver + "/" + name + " with dvdcli");
  }

  /** {@code dvdcli <command> --volumedriver=<driver> --volumename=<name> [--volumeopts=k=v]... [--explicitcreate]}. */
  List<String> argv(String command, String name, VolumeOptions options, boolean explicitCreate) {
    List<String> a = new ArrayList<>();
    a.add(binary);
    a.add(command);
    a.add("--volumedriver=" + driver);
    a.add("--volumename=" + name);
    options.asMap().forEach((k, v) -> a.add("--volumeopts=" + k + "=" + v));
    if (explicitCreate) {
      a.add("--explicitcreate");
    }
    return a;
  }

  /**
   * A failed run as an error naming the volume, the command and dvdcli's stderr. The codes
   * {@code recognised} for this command come from dvdcli's words (see {@link DriverErrors});
   * everything else, including a missing plugin, is PROVIDER_FAILURE.
   */
  private DvdiException failed(String command, String name, Commands.Result r, Set<Kind> recognised) {
    Kind k = DriverErrors.classify(r.stderr() + "\n" + r.stdout());
    String msg = "dvdcli " + command + " of volume " + driver + "/" + name + " failed: " + String.join(" ", r.argv())
        + " exited " + r.exitCode() + (r.diagnostics().isEmpty() ? "" : ": " + r.diagnostics());
    if (k == Kind.PLUGIN_MISSING) {
      return DvdiException.provider(msg + " (dvdcli found no Docker volume plugin '" + driver + "')");
    }
    if (!recognised.contains(k)) {
      return DvdiException.provider(msg);
    }
    return new DvdiException(k == Kind.VOLUME_MISSING ? ErrorCode.VOLUME_NOT_FOUND : ErrorCode.VOLUME_BUSY, msg);
  }

  private static String lastLine(String out) {
    String last = "";
    for (String l : out.split("\n")) {
      if (!l.isBlank()) {
        last = l.strip();
      }
    }
    return last;
  }
}
