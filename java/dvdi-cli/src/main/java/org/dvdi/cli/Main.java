package org.dvdi.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code dvdi}: shows and verifies the mount state, and lets an operator mount, unmount and
 * release volumes safely while the agent runs (it takes the same state lock the module does).
 */
@Command(name = "dvdi", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "External persistent volumes for Mesos tasks: mount table, inspection, verification, release.",
    subcommands = {MountsCommand.class, InspectCommand.class, VerifyCommand.class, ReleaseCommand.class,
        VolumesCommand.class, OperatorCommands.Mount.class, OperatorCommands.Unmount.class,
        OperatorCommands.Create.class, OperatorCommands.Remove.class, DoctorCommand.class},
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:done (verify: no drift)", "1:failed (see the message)", "2:bad command line", "3:verify found drift"})
public final class Main implements Callable<Integer> {
  @Spec
  CommandLine.Model.CommandSpec spec;

  @Option(names = "--config", scope = CommandLine.ScopeType.INHERIT, paramLabel = "FILE",
      description = "config file (default: $" + DvdiConfig.ENV_CONFIG + ", else " + DvdiConfig.DEFAULT_FILE + ")")
  Path config;

  @Option(names = "--set", scope = CommandLine.ScopeType.INHERIT, paramLabel = "KEY=VALUE", description = "override a setting, e.g. --set state.dir=/tmp/s")
  Map<String, String> settings = new LinkedHashMap<>();

  @Option(names = {"-o", "--output"}, scope = CommandLine.ScopeType.INHERIT, paramLabel = "FORMAT", description = "table (default) or json")
  String output = "table";

  @Option(names = {"-v", "--verbose"}, scope = CommandLine.ScopeType.INHERIT, description = "log what dvdi does (to stderr)")
  void verbose(boolean v) {
    DVDI_LOG.setLevel(v ? java.util.logging.Level.INFO : java.util.logging.Level.WARNING);
  }

  @Option(names = "--no-headers", scope = CommandLine.ScopeType.INHERIT, description = "tables without their header line")
  boolean noHeaders;

  private Map<String, String> env = System.getenv();

  /**
   * dvdi's parent logger, held here: the LogManager keeps loggers only weakly, so a level set on
   * a logger nobody holds is lost at the next GC (then the CLI's output got INFO lines).
   */
  private static final java.util.logging.Logger DVDI_LOG = java.util.logging.Logger.getLogger("org.dvdi");

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getOut());
    return ExitCodes.USAGE;
  }

  /** The environment this command runs in (a test's own map, or the process's). */
  Map<String, String> env() {
    return env;
  }

  DvdiConfig config() {
    Path file = config;
    if (file == null && env.get(DvdiConfig.ENV_CONFIG) != null) {
      file = Path.of(env.get(DvdiConfig.ENV_CONFIG));
    }
    return DvdiConfig.load(file, settings);
  }

  boolean json() {
    if (!output.equals("json") && !output.equals("table")) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--output is '" + output + "': must be table or json");
    }
    return output.equals("json");
  }

  /** A consistent read of the state (shared lock), as the agent is writing it. */
  StateStore.ReadResult readState(DvdiConfig c) {
    return StateStore.read(c.stateDir(), c.lockTimeout());
  }

  /**
   * When state is refused (a newer dvdi wrote it, left untouched): releases {@code key}'s
   * mount under the mount root without state, says {@code done} and returns true; otherwise
   * does nothing and returns false.
   */
  boolean releasedWithoutState(DvdiConfig c, VolumeKey key, String done) {
    StateStore.ReadResult state = readState(c);
    if (!state.refused()) {
      return false;
    }
    state.problems().forEach(p -> spec.commandLine().getErr().println("warning: " + p));
    try (org.dvdi.core.engine.ProviderRegistry providers = providers(c)) {
      org.dvdi.core.engine.OperatorActions.releaseWithoutState(org.dvdi.core.seams.Host.REAL, c, providers, key);
    }
    spec.commandLine().getOut().println(done + " " + key + " (dvdi state left untouched)");
    return true;
  }

  /** dvdi for a command that changes things (writer "cli"). */
  Dvdi openForChange(DvdiConfig c) {
    return Dvdi.open(c, Dvdi.WRITER_CLI);
  }

  /** The providers, as the agent would make them from this config (for commands that ask them). */
  static org.dvdi.core.engine.ProviderRegistry providers(DvdiConfig c) {
    return new org.dvdi.core.engine.ProviderRegistry(c, new org.dvdi.spi.host.Commands(), Main.class.getClassLoader());
  }

  /** A provider call's context with the configured timeout of its step. */
  static org.dvdi.spi.CallContext call(DvdiConfig c, DvdiConfig.Step step, String what) {
    return org.dvdi.spi.CallContext.of(c.timeout(step), what, c.instanceId());
  }

  static VolumeKey volume(CommandLine cmd, String spec) {
    try {
      return VolumeKey.parse(spec);
    } catch (DvdiException e) {
      throw new CommandLine.ParameterException(cmd, e.getMessage());
    }
  }

  static String time(long ms) {
    return ms <= 0 ? "-" : DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochMilli(ms).atOffset(ZoneOffset.UTC)
        .withNano(0).toInstant());
  }

  static String age(long ms) {
    if (ms <= 0) {
      return "-";
    }
    Duration d = Duration.ofMillis(Math.max(0, System.currentTimeMillis() - ms));
    return d.toDays() > 0 ? d.toDays() + "d" : d.toHours() > 0 ? d.toHours() + "h" : d.toMinutes() > 0
        ? d.toMinutes() + "m" : d.toSeconds() + "s";
  }

  /** The command line with dvdi's error handling: DvdiExceptions print "dvdi CODE: message" and exit 1. */
  public static CommandLine commandLine(Map<String, String> env) {
    Main main = new Main();
    main.env = env;
    CommandLine cl = new CommandLine(main);
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      Throwable t = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      DvdiException d = DvdiException.wrap(t, cmd.getCommandName());
      cmd.getErr().println(d);
      if (d.getCode() == ErrorCode.INTERNAL && d.getCause() != null) {
        d.getCause().printStackTrace(cmd.getErr());
      }
      return ExitCodes.ERROR;
    });
    return cl;
  }

  /** Runs a command line with the given writers; returns the exit code. */
  public static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
    CommandLine cl = commandLine(env);
    cl.setOut(out);
    cl.setErr(err);
    try {
      return cl.execute(args);
    } finally {
      out.flush();
      err.flush();
    }
  }

  public static void main(String[] args) {
    DVDI_LOG.setLevel(java.util.logging.Level.WARNING);
    int code = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true), System.getenv());
    System.exit(code);
  }

  /**
   * The version from the jar's manifest, and the Mesos versions of the isolator modules
   * installed beside the jar (a package's {@code /usr/lib/dvdi/libmesos_dvdi_isolator-<version>.so}).
   */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      java.util.List<String> mesos = new java.util.ArrayList<>();
      try {
        Path dir = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).getParent();
        try (var files = java.nio.file.Files.list(dir)) {
          files.map(f -> DoctorCommand.LIBRARY.matcher(f.getFileName().toString()))
              .filter(java.util.regex.Matcher::matches).forEach(m -> mesos.add(m.group(1)));
        }
      } catch (Exception e) {
        // not a jar in a directory (a development run): no modules beside it
      }
      java.util.Collections.sort(mesos);
      return new String[] {"dvdi " + (v == null ? "(development build)" : v)
          + (mesos.isEmpty() ? " (no Mesos module installed beside it)" : " for Mesos " + String.join(", ", mesos))};
    }
  }
}
