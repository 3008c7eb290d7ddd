package org.dvdi.core.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.DvdiException;
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
 * Bench-only provider type "benchtmpfs": a volume is a tmpfs mounted at {@code <mount
 * root>/<driver>/<name>} whose source is a file {@code <providers.benchtmpfs.dir>/<name>} (so
 * that a record's device is a path, not a block device: dvdi's kernel check then reads the
 * mount table). It says kernelMounts, as block providers do. Cheap to make by the thousand;
 * {@link #calls} counts what dvdi asked of it. Not on the production class path: the bench
 * registers it through a class loader of its own ({@link RecoverBench}).
 */
public final class BenchTmpfsFactory implements ProviderFactory {
  public static final String TYPE = "benchtmpfs";
  /** Where the sources (the records' "devices") are. */
  public static final String SET_DIR = "dir";

  /** Provider calls per method since the last reset, other than validate and capabilities. */
  static final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

  /**
   * While set, unmount and detach block until it is counted down, ignoring interrupts and
   * deadlines: a provider that is hung (a frozen plugin), not one that is slow.
   */
  static volatile java.util.concurrent.CountDownLatch hung;

  /** Calls blocked in {@link #hung} now. */
  static final AtomicInteger stuck = new AtomicInteger();

  private static void hangWhileHung() {
    java.util.concurrent.CountDownLatch h = hung;
    if (h == null) {
      return;
    }
    stuck.incrementAndGet();
    boolean interrupted = false;
    try {
      while (true) {
        try {
          h.await();
          break;
        } catch (InterruptedException e) {
          interrupted = true; // hung: it does not listen
        }
      }
    } finally {
      stuck.decrementAndGet();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  static int totalCalls() {
    return calls.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  private static void count(String method) {
    calls.computeIfAbsent(method, k -> new AtomicInteger()).incrementAndGet();
  }

  /** Mounts a tmpfs whose source is {@code source} at {@code host} (mount(8), argument vector). */
  static void mountTmpfs(Commands commands, Path source, Path host, CallContext ctx) {
    try {
      Files.createDirectories(host);
    } catch (IOException e) {
      throw DvdiException.provider("cannot create mount point " + host + ": " + e.getMessage(), e);
    }
    if (KernelMounts.read().isMountPoint(host)) {
      return;
    }
    commands.check(List.of("mount", "-t", "tmpfs", "-o", "size=1m,mode=0755,nosuid,nodev", source.toString(),
        host.toString()), ctx, "mounting a tmpfs at " + host);
  }

  /** Unmounts whatever is at {@code host} (not mounted is fine). */
  static void unmount(Commands commands, Path host, CallContext ctx) {
    if (KernelMounts.read().isMountPoint(host)) {
      commands.check(List.of("umount", host.toString()), ctx, "unmounting " + host);
    }
  }

  static CallContext context(String what) {
    return CallContext.of(Duration.ofSeconds(30), what, "bench");
  }

  @Override
  public String getName() {
    return TYPE;
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext ctx) {
    Path dir = Path.of(ctx.settings().get(SET_DIR).orElseThrow(() -> DvdiException.config(
        "providers." + TYPE + "." + SET_DIR + " is not set: the directory of the bench's tmpfs sources")));
    Path mounts = ctx.mountRoot().resolve(driver);
    Commands commands = ctx.commands();
    return new VolumeProvider() {
      @Override
      public String driver() {
        return driver;
      }

      @Override
      public Capabilities capabilities() {
        return new Capabilities(true);
      }

      @Override
      public void validate(String name, VolumeOptions options) {
        if (!NAME.matcher(name).matches()) {
          throw DvdiException.invalid("volume name '" + name + "' is not a valid " + TYPE + " name");
        }
      }

      @Override
      public Optional<VolumeInfo> inspect(String name, CallContext c) {
        count("inspect");
        Path src = dir.resolve(name);
        return Files.exists(src) ? Optional.of(new VolumeInfo(driver, name, src.toString(), 1 << 20, "available", "",
            Map.of())) : Optional.empty();
      }

      @Override
      public List<VolumeInfo> list(CallContext c) {
        count("list");
        return List.of();
      }

      @Override
      public VolumeInfo create(String name, VolumeOptions options, CallContext c) {
        count("create");
        try {
          Files.createDirectories(dir);
          Path src = dir.resolve(name);
          if (!Files.exists(src)) {
            Files.createFile(src);
          }
          return new VolumeInfo(driver, name, src.toString(), 1 << 20, "available", "", Map.of());
        } catch (IOException e) {
          throw DvdiException.provider("cannot create " + dir.resolve(name) + ": " + e.getMessage(), e);
        }
      }

      @Override
      public MountedVolume mount(String name, VolumeOptions options, org.dvdi.spi.Attachment att, CallContext c) {
        count("mount");
        Path host = mounts.resolve(name);
        mountTmpfs(commands, dir.resolve(name), host, c);
        return new MountedVolume(host.toString(), dir.resolve(name).toString(), Map.of());
      }

      @Override
      public void unmount(VolumeHandle v, CallContext c) {
        count("unmount");
        hangWhileHung();
        BenchTmpfsFactory.unmount(commands, mounts.resolve(v.name()), c);
      }

      @Override
      public void detach(VolumeHandle v, CallContext c) {
        count("detach");
        hangWhileHung();
      }

      @Override
      public void remove(String name, CallContext c) {
        count("remove");
        try {
          Files.deleteIfExists(dir.resolve(name));
        } catch (IOException e) {
          throw DvdiException.provider("cannot remove " + dir.resolve(name) + ": " + e.getMessage(), e);
        }
      }
    };
  }
}
