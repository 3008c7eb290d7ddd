package org.dvdi.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.ProviderRegistry;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.VolumeInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** What the providers have: every volume, wherever it is attached. */
@Command(name = "volumes", description = "List the providers' volumes (name, id, size, status, attached to); by default "
    + "of the loop pool and every driver named in the config (drivers.*).")
final class VolumesCommand implements Callable<Integer> {
  @ParentCommand
  Main main;

  @Parameters(paramLabel = "DRIVER", arity = "0..*", description = "drivers to list")
  List<String> drivers = new ArrayList<>();

  @Override
  public Integer call() {
    boolean json = main.json();
    DvdiConfig c = main.config();
    List<VolumeInfo> all = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    try (ProviderRegistry reg = Main.providers(c)) {
      Set<String> which = new LinkedHashSet<>(drivers);
      if (which.isEmpty()) {
        which.addAll(c.settings().under("drivers").asMap().keySet());
        which.add("loop");
      }
      for (String d : which) {
        try {
          all.addAll(reg.get(d).list(Main.call(c, DvdiConfig.Step.LIST, "list " + d)));
        } catch (DvdiException e) {
          errors.add(d + ": " + e);
        }
      }
    }
    var out = main.spec.commandLine().getOut();
    if (json) {
      var o = Output.JSON.createObjectNode();
      ArrayNode a = o.putArray("volumes");
      all.forEach(v -> a.add(Json.providerVolume(v)));
      errors.forEach(o.putArray("errors")::add);
      Output.json(out, o);
    } else {
      List<List<String>> rows = new ArrayList<>();
      for (VolumeInfo v : all) {
        rows.add(List.of(v.driver(), v.name(), MountsCommand.dash(v.id()), Sizes.format(v.sizeBytes()), MountsCommand.dash(v.status()),
            MountsCommand.dash(v.attachedTo())));
      }
      Output.table(out, List.of("DRIVER", "NAME", "ID", "SIZE", "STATUS", "ATTACHED TO"), rows, main.noHeaders);
      errors.forEach(e -> main.spec.commandLine().getErr().println("error: " + e));
    }
    return errors.isEmpty() ? ExitCodes.OK : ExitCodes.ERROR;
  }
}
