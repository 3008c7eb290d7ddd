package org.dvdi.core.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;

/**
 * Test provider "tmpfsplugin": behaves as a Docker volume plugin does towards dvdi (no
 * device, {@code kernelMounts} false: the plugin, not dvdi, mounts), as REX-Ray does on the
 * host: a volume is a directory {@code <base>/<name>} on which its Mount puts a tmpfs, and
 * the path it answers is {@code <base>/<name>/data}, inside that mount (not a mount point
 * itself). {@code providers.tmpfsplugin.base} is where the volumes are.
 */
public final class TmpfsPluginFactory implements ProviderFactory {
  @Override
  public String getName() {
    return "tmpfsplugin";
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext ctx) {
    Path base = Path.of(ctx.settings().get("base").orElseThrow());
    Commands commands = new Commands();
    return new VolumeProvider() {
      Path dir(String name) {
        return base.resolve(name);
      }

      @Override
      public String driver() {
        return driver;
      }

      @Override
      public Capabilities capabilities() {
        return new Capabilities(false);
      }

      @Override
      public void validate(String name, VolumeOptions options) {}

      @Override
      public Optional<VolumeInfo> inspect(String name, CallContext c) {
        return Files.isDirectory(dir(name)) ? Optional.of(new VolumeInfo(driver, name, name, -1, "", "", Map.of()))
            : Optional.empty();
      }

      @Override
      public List<VolumeInfo> list(CallContext c) {
        List<VolumeInfo> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(base)) {
          s.forEach(p -> out.add(new VolumeInfo(driver, p.getFileName().toString(), "", -1, "", "", Map.of())));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return out;
      }

      @Override
      public VolumeInfo create(String name, VolumeOptions options, CallContext c) {
        try {
          Files.createDirectories(dir(name));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return inspect(name, c).orElseThrow();
      }

      @Override
      public MountedVolume mount(String name, VolumeOptions options, org.dvdi.spi.Attachment att, CallContext c) {
        Path d = dir(name);
        if (!KernelMounts.read().isMountPoint(d)) {
          commands.check(List.of("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", d.toString()), c, "mounting " + name);
        }
        try {
          Files.createDirectories(d.resolve("data"));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return new MountedVolume(d.resolve("data").toString(), "", Map.of());
      }

      @Override
      public void unmount(VolumeHandle v, CallContext c) {
        Path d = dir(v.name());
        if (KernelMounts.read().isMountPoint(d)) {
          commands.check(List.of("umount", d.toString()), c, "unmounting " + v.name());
        }
      }

      @Override
      public void remove(String name, CallContext c) {
        unmount(new VolumeHandle(name, null, "", "", Map.of()), CallContext.of(Duration.ofSeconds(10), "remove", ""));
        try {
          Files.deleteIfExists(dir(name).resolve("data"));
          Files.deleteIfExists(dir(name));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    };
  }
}
