package org.dvdi.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.DvdiException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** One container or one volume, in detail. */
@Command(name = "inspect", description = "Show one container (by its Mesos container id) or one volume (<driver>/<name>).")
final class InspectCommand implements Callable<Integer> {
  @ParentCommand
  Main main;

  @Parameters(paramLabel = "CONTAINER-ID|DRIVER/NAME")
  String what;

  @Override
  public Integer call() {
    boolean json = main.json();
    DvdiConfig c = main.config();
    StateView v = main.readState(c).view();
    ObjectNode node;
    if (what.contains("/") && !what.startsWith("operator:")) {
      Volume vol = v.volume(Main.volume(main.spec.commandLine(), what));
      if (vol == null) {
        throw DvdiException.notFound("volume " + what + " is not in the mount table (" + c.stateDir() + ")");
      }
      node = Json.volume(vol, v);
    } else {
      Container ctr = v.container(what);
      if (ctr == null) {
        throw DvdiException.notFound("container " + what + " is not in the mount table (" + c.stateDir() + ")");
      }
      node = Json.container(ctr);
      for (JsonNode use : node.get("volumes")) {
        Volume vol = v.volume(VolumeKey.parse(use.get("volume").asText()));
        ((ObjectNode) use).put("host_path", vol == null ? "" : vol.getHostPath());
      }
    }
    PrintWriter out = main.spec.commandLine().getOut();
    if (json) {
      Output.json(out, node);
    } else {
      print(out, node, "");
    }
    return ExitCodes.OK;
  }

  /** key: value lines, nested objects and lists indented. */
  static void print(PrintWriter out, JsonNode n, String indent) {
    for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode val = e.getValue();
      if (val.isObject()) {
        out.println(indent + e.getKey() + ":" + (val.isEmpty() ? " -" : ""));
        print(out, val, indent + "  ");
      } else if (val.isArray()) {
        out.println(indent + e.getKey() + ":" + (val.isEmpty() ? " -" : ""));
        for (JsonNode x : val) {
          if (x.isObject()) {
            out.println(indent + "  -");
            print(out, x, indent + "    ");
          } else {
            out.println(indent + "  - " + x.asText());
          }
        }
      } else {
        out.println(indent + e.getKey() + ": " + (val.asText().isEmpty() ? "-" : val.asText()));
      }
    }
  }
}
