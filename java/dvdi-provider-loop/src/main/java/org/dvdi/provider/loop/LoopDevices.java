package org.dvdi.provider.loop;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.host.Commands;

/**
 * Loop devices, read from sysfs ({@code /sys/block/loopN/loop/backing_file}) and changed
 * with losetup. A device is always found by its backing file, never trusted by name alone:
 * after a reboot {@code /dev/loop3} may be somebody else's. Not final: tests model a host
 * that sees only its own devices of a pool shared with other hosts.
 */
public class LoopDevices {
  static final Path SYS_BLOCK = Path.of("/sys/block");

  private final Commands commands;

  public LoopDevices(Commands commands) {
    this.commands = commands;
  }

  /** The loop devices whose backing file is {@code image}. */
  public List<String> backedBy(Path image) {
    String want = image.toAbsolutePath().normalize().toString();
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(SYS_BLOCK, "loop*")) {
      for (Path dev : ds) {
        Path bf = dev.resolve("loop/backing_file");
        if (!Files.isReadable(bf)) {
          continue;
        }
        String f;
        try {
          f = Files.readString(bf).trim();
        } catch (IOException e) {
          continue; // detached meanwhile
        }
        if (f.equals(want)) {
          out.add("/dev/" + dev.getFileName());
        }
      }
    } catch (IOException e) {
      throw DvdiException.internal("cannot list loop devices in " + SYS_BLOCK, e);
    }
    out.sort(null);
    return out;
  }

  /** Attaches {@code image} to a free loop device and returns the device path. */
  public String attach(Path image, CallContext ctx) {
    Commands.Result r = commands.check(List.of("losetup", "--find", "--show", image.toString()), ctx,
        "attaching " + image + " to a loop device");
    String dev = r.stdout().strip();
    if (!dev.startsWith("/dev/loop")) {
      throw DvdiException.provider("losetup printed '" + dev + "' instead of a loop device for " + image);
    }
    return dev;
  }

  /** Detaches {@code device}. A device that is already gone is success. */
  public void detach(String device, CallContext ctx) {
    Commands.Result r = commands.run(List.of("losetup", "--detach", device), ctx);
    if (!r.ok() && Files.exists(Path.of("/sys/block", Path.of(device).getFileName().toString(), "loop"))) {
      throw DvdiException.provider("detaching " + device + " failed: losetup exited " + r.exitCode()
          + ": " + r.diagnostics());
    }
  }
}
