package org.dvdi.cli;

import java.util.concurrent.Callable;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.state.VolumeKey;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * Releases an orphaned volume safely: unmount and detach, through the state lock the agent
 * respects; also a mount state lost (adopted into state first, as the agent's recovery adopts
 * it), and, when state is refused (a newer dvdi wrote it), without touching state.
 */
@Command(name = "release", description = "Unmount and detach a volume no container uses (orphaned, adopted, untracked, "
    + "failed to release); refused while containers use it, unless --force.")
final class ReleaseCommand implements Callable<Integer> {
  @ParentCommand
  Main main;

  @Parameters(paramLabel = "DRIVER/NAME")
  String volume;

  @Option(names = "--force", description = "release even though containers use it (their tasks lose the volume)")
  boolean force;

  @Override
  public Integer call() {
    VolumeKey key = Main.volume(main.spec.commandLine(), volume);
    DvdiConfig c = main.config();
    if (main.releasedWithoutState(c, key, "released")) {
      return ExitCodes.OK;
    }
    try (Dvdi d = main.openForChange(c)) {
      d.manager().operatorRelease(key, force).join();
    }
    main.spec.commandLine().getOut().println("released " + key);
    return ExitCodes.OK;
  }
}
