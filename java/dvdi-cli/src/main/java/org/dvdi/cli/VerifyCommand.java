package org.dvdi.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.OperatorActions;
import org.dvdi.core.engine.ProcessOwner;
import org.dvdi.core.engine.ProviderRegistry;
import org.dvdi.core.seams.Host;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.host.KernelMounts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** Compares dvdi's state with the kernel's mount table and with the providers. */
@Command(name = "verify", description = "Check the mount table against the kernel's mount table and the providers; "
    + "exit 3 listing what drifted.")
final class VerifyCommand implements Callable<Integer> {
  @ParentCommand
  Main main;

  @Option(names = "--no-provider", description = "do not ask the providers (only state against the kernel)")
  boolean noProvider;

  record Drift(String subject, String problem) {}

  @Override
  public Integer call() {
    boolean json = main.json();
    DvdiConfig c = main.config();
    StateStore.ReadResult r = main.readState(c);
    StateView v = r.view();
    Host host = Host.REAL;
    KernelMounts kernel = host.mountTable();
    List<Drift> drift = new ArrayList<>();
    for (String p : r.problems()) {
      drift.add(new Drift("state", p));
    }
    String boot = host.bootId();
    ProviderRegistry providers = noProvider ? null : Main.providers(c);
    for (Volume vol : v.volumes().values()) {
      VolumeKey key = VolumeKey.of(vol);
      String subject = key.toString();
      List<String> users = v.users(key);
      if (!vol.getBootId().equals(boot)) {
        drift.add(new Drift(subject, "mounted before the last reboot (boot " + vol.getBootId() + "); the agent's recovery releases it"));
        continue;
      }
      if (vol.getStatus() == VolumeStatus.RELEASING && !vol.getLastError().isEmpty()) {
        drift.add(new Drift(subject, "release failed at " + Main.time(vol.getLastErrorMs()) + ": " + vol.getLastError()
            + "; retried by the agent, or now with `dvdi release " + key + "`"));
      } else if (vol.getStatus() != VolumeStatus.MOUNTED && !ProcessOwner.alive(host, vol.getOpOwner())) {
        drift.add(new Drift(subject, vol.getStatus().name().toLowerCase() + " was interrupted (its process "
            + vol.getOpOwner() + " is gone); the agent's recovery finishes or undoes it"));
      }
      if (vol.getPinned()) {
        drift.add(new Drift(subject, "adopted: found mounted without state; `dvdi release " + key + "` when nothing uses it"));
      } else if (users.isEmpty() && vol.getStatus() == VolumeStatus.MOUNTED) {
        drift.add(new Drift(subject, "mounted but no container uses it (orphan); `dvdi release " + key + "` releases it"));
      }
      VolumeProvider p = null;
      if (providers != null) {
        try {
          p = providers.get(key.driver());
        } catch (DvdiException e) {
          drift.add(new Drift(subject, "no provider for driver '" + key.driver() + "': " + e.getMessage()));
        }
      }
      boolean kernelMounts = p == null ? vol.getHostPath().startsWith(c.mountRoot().toString() + "/") : p.capabilities().kernelMounts();
      if (vol.getStatus() == VolumeStatus.MOUNTED && kernelMounts) {
        Optional<KernelMounts.Mount> m = kernel.at(Path.of(vol.getHostPath()));
        if (m.isEmpty()) {
          drift.add(new Drift(subject, "state says mounted at " + vol.getHostPath() + ", the kernel has no mount there"));
        } else if (!vol.getDevice().isEmpty()
            && !BlockVolumes.canonical(m.get().source()).equals(BlockVolumes.canonical(vol.getDevice()))) {
          drift.add(new Drift(subject, "the kernel has " + m.get().source() + " at " + vol.getHostPath() + ", state says "
              + vol.getDevice()));
        }
      }
      if (p != null) {
        try {
          Optional<VolumeInfo> info = p.inspect(key.name(), Main.call(c, DvdiConfig.Step.INSPECT, "verify " + key));
          if (info.isEmpty()) {
            drift.add(new Drift(subject, "the provider has no volume of that name"));
          }
        } catch (DvdiException e) {
          drift.add(new Drift(subject, "the provider could not be asked: " + e));
        }
      }
    }
    OperatorActions.untracked(host, c.mountRoot(), v).forEach((key, m) -> drift.add(new Drift(m.mountPoint(), "mounted ("
        + m.source() + ") but not in dvdi's state (untracked); `dvdi release " + key + "` releases it (refused while "
        + "it is in use), or the agent's recovery adopts it")));
    for (Container ctr : v.containers().values()) {
      for (VolumeUse u : ctr.getUsesList()) {
        if (u.getAcquired() && v.volume(VolumeKey.of(u)) == null) {
          drift.add(new Drift("container " + ctr.getId(), "holds " + u.getDriver() + "/" + u.getName() + ", which is not in the table"));
        }
      }
    }
    if (providers != null) {
      providers.close();
    }
    var out = main.spec.commandLine().getOut();
    if (json) {
      ObjectNode o = Output.JSON.createObjectNode();
      o.put("ok", drift.isEmpty());
      o.put("volumes", v.volumes().size());
      o.put("containers", v.containers().size());
      ArrayNode a = o.putArray("drift");
      drift.forEach(d -> a.addObject().put("subject", d.subject()).put("problem", d.problem()));
      Output.json(out, o);
    } else if (drift.isEmpty()) {
      out.println("ok: " + v.volumes().size() + " volumes and " + v.containers().size()
          + " containers agree with the kernel" + (noProvider ? "" : " and the providers"));
    } else {
      List<List<String>> rows = new ArrayList<>();
      drift.forEach(d -> rows.add(List.of(d.subject(), d.problem())));
      Output.table(out, List.of("SUBJECT", "DRIFT"), rows, main.noHeaders);
    }
    return drift.isEmpty() ? ExitCodes.OK : ExitCodes.DRIFT;
  }
}
