package org.dvdi.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.ProviderRegistry;
import org.dvdi.core.engine.Results;
import org.dvdi.core.request.Grammar;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** The operator's own mounts and the providers' create/remove. */
final class OperatorCommands {
  private OperatorCommands() {}

  /** Options as DVDI_VOLUME_OPTS writes them, checked by the same grammar. */
  static VolumeOptions options(String opts) {
    return Grammar.optionsFromEnv(opts, "--options");
  }

  static VolumeKey checked(Main main, String spec) {
    VolumeKey k = Main.volume(main.spec.commandLine(), spec);
    return new VolumeKey(Grammar.driver(k.driver(), "driver"), Grammar.name(k.name(), "volume name"));
  }

  @Command(name = "mount", description = "Mount a volume on this host for an operator (held as container "
      + "operator:<driver>/<name> until `dvdi unmount`); prints where it is.")
  static final class Mount implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(paramLabel = "DRIVER/NAME")
    String volume;

    @Option(names = {"-O", "--options"}, paramLabel = "K=V,...", description = "volume options, as DVDI_VOLUME_OPTS")
    String opts = "";

    @Option(names = "--explicit-create", description = "fail when the volume does not exist")
    boolean explicit;

    @Override
    public Integer call() {
      VolumeKey key = checked(main, volume);
      try (Dvdi d = main.openForChange(main.config())) {
        Results.PrepareResult r = d.manager().operatorMount(key, options(opts), explicit).join();
        main.spec.commandLine().getOut().println(r.volumes().get(0).hostPath());
      }
      return ExitCodes.OK;
    }
  }

  @Command(name = "unmount", description = "Drop an operator's mount (`dvdi mount`); the volume is released when nobody else uses it.")
  static final class Unmount implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(paramLabel = "DRIVER/NAME")
    String volume;

    @Override
    public Integer call() {
      VolumeKey key = checked(main, volume);
      DvdiConfig c = main.config();
      if (main.releasedWithoutState(c, key, "unmounted and released")) {
        return ExitCodes.OK;
      }
      try (Dvdi d = main.openForChange(c)) {
        Results.CleanupResult r = d.manager().operatorUnmount(key).join();
        if (!r.known()) {
          boolean tracked = d.state().view().volume(key) != null;
          main.spec.commandLine().getErr().println("dvdi VOLUME_NOT_FOUND: " + key + " is not mounted by an operator"
              + (tracked ? " (dvdi's state has the volume but no container " + r.containerId() + "); `dvdi release " + key
                  + "` releases it when no container uses it" : ""));
          return ExitCodes.ERROR;
        }
        if (!r.failures().isEmpty()) {
          main.spec.commandLine().getErr().println("dvdi PROVIDER_FAILURE: " + String.join("; ", r.failures()));
          return ExitCodes.ERROR;
        }
        List<String> users = d.state().view().users(key);
        main.spec.commandLine().getOut().println(!r.released().isEmpty() ? "unmounted and released " + key
            : users.isEmpty() ? "unmounted " + key + " (the volume was not mounted)"
            : "unmounted " + key + " (still used by " + String.join(", ", users) + ")");
      }
      return ExitCodes.OK;
    }
  }

  @Command(name = "create", description = "Create a volume with its provider (without mounting it).")
  static final class Create implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(paramLabel = "DRIVER/NAME")
    String volume;

    @Option(names = {"-O", "--options"}, paramLabel = "K=V,...", description = "volume options, as DVDI_VOLUME_OPTS")
    String opts = "";

    @Override
    public Integer call() {
      VolumeKey key = checked(main, volume);
      DvdiConfig c = main.config();
      try (ProviderRegistry reg = Main.providers(c)) {
        VolumeProvider p = reg.get(key.driver());
        VolumeOptions o = options(opts);
        p.validate(key.name(), o);
        VolumeInfo v = p.create(key.name(), o, Main.call(c, DvdiConfig.Step.CREATE, "create " + key));
        main.spec.commandLine().getOut().println("created " + key + (v.id().isEmpty() ? "" : " (" + v.id() + ")"));
      }
      return ExitCodes.OK;
    }
  }

  @Command(name = "remove", description = "Delete a volume and its data with its provider. Refused while it is attached or mounted.")
  static final class Remove implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(paramLabel = "DRIVER/NAME")
    String volume;

    @Override
    public Integer call() {
      VolumeKey key = checked(main, volume);
      DvdiConfig c = main.config();
      if (main.readState(c).view().volume(key) != null) {
        throw org.dvdi.spi.DvdiException.busy("volume " + key + " is in this host's mount table; release it first");
      }
      try (ProviderRegistry reg = Main.providers(c)) {
        reg.get(key.driver()).remove(key.name(), Main.call(c, DvdiConfig.Step.REMOVE, "remove " + key));
      }
      main.spec.commandLine().getOut().println("removed " + key);
      return ExitCodes.OK;
    }
  }
}
