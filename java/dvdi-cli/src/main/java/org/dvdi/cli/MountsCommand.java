package org.dvdi.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.OperatorActions;
import org.dvdi.core.seams.Host;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** The mount table: every volume this host has, who uses it, since when. */
@Command(name = "mounts", description = "Show the mount table: driver, name, status, host path, device, refs, containers, since.")
final class MountsCommand implements Callable<Integer> {
  /** Status shown for a mount under the mount root that state does not know (release it with `dvdi release`). */
  static final String UNTRACKED = "untracked";

  @ParentCommand
  Main main;

  @Override
  public Integer call() {
    boolean json = main.json();
    DvdiConfig c = main.config();
    StateStore.ReadResult r = main.readState(c);
    StateView v = r.view();
    var out = main.spec.commandLine().getOut();
    if (json) {
      ObjectNode root = Output.JSON.createObjectNode();
      root.put("state_dir", c.stateDir().toString());
      ArrayNode vols = root.putArray("volumes");
      for (Volume vol : v.volumes().values()) {
        vols.add(Json.volume(vol, v));
      }
      ArrayNode untracked = root.putArray("untracked");
      for (VolumeKey k : OperatorActions.untracked(Host.REAL, c.mountRoot(), v).keySet()) {
        ObjectNode u = untracked.addObject();
        u.put("driver", k.driver());
        u.put("name", k.name());
        u.put("host_path", c.mountRoot().resolve(k.driver()).resolve(k.name()).toString());
      }
      r.problems().forEach(root.putArray("problems")::add);
      Output.json(out, root);
      return ExitCodes.OK;
    }
    List<List<String>> rows = new ArrayList<>();
    for (Volume vol : v.volumes().values()) {
      List<String> users = v.users(VolumeKey.of(vol));
      rows.add(List.of(vol.getDriver(), vol.getName(), Json.status(vol), dash(vol.getHostPath()), dash(vol.getDevice()),
          Integer.toString(users.size()), users.isEmpty() ? "-" : String.join(",", users), Main.time(vol.getSinceMs())));
    }
    for (VolumeKey k : OperatorActions.untracked(Host.REAL, c.mountRoot(), v).keySet()) {
      rows.add(List.of(k.driver(), k.name(), UNTRACKED, c.mountRoot().resolve(k.driver()).resolve(k.name()).toString(), "-", "-",
          "-", "-"));
    }
    Output.table(out, List.of("DRIVER", "NAME", "STATUS", "HOST PATH", "DEVICE", "REFS", "CONTAINERS", "SINCE"), rows,
        main.noHeaders);
    for (String p : r.problems()) {
      main.spec.commandLine().getErr().println("warning: " + p);
    }
    return ExitCodes.OK;
  }

  static String dash(String s) {
    return s == null || s.isEmpty() ? "-" : s;
  }
}
