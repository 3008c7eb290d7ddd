package org.dvdi.provider.ebs;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.host.Commands;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.services.ec2.model.AttachVolumeResponse;
import software.amazon.awssdk.services.ec2.model.DeleteVolumeRequest;
import software.amazon.awssdk.services.ec2.model.DetachVolumeResponse;
import software.amazon.awssdk.services.ec2.model.ModifyVolumeResponse;

/**
 * What EC2's hypervisor does on this host, for tests: when moto says a volume was attached to
 * "this" instance, a block device appears in the test's discovery directories; when it is
 * detached, the device goes away. The device is named as a real instance would show it
 * ({@link Naming}): an NVMe namespace with the volume id as serial in sysfs, a udev by-id
 * link, or an xvd name, so the provider finds it through its own discovery code.
 *
 * <p>As root ({@link Backing#LOOP}) the device is a loop device over a sparse file per volume
 * (so data survives detach and re-attach, as on EBS); without root ({@link Backing#FILE}) it
 * is a link to a plain file, enough for everything but mkfs and mount.
 */
final class FakeHypervisor implements ExecutionInterceptor {
  enum Naming { NVME_SYSFS, NVME_BY_ID, XVD }

  enum Backing { LOOP, FILE }

  private final Path root;
  private final Path images;
  private final String instanceId;
  private final String zone;
  private final Backing backing;
  private final Commands commands = new Commands();
  private final Map<String, Path> links = new ConcurrentHashMap<>();
  private final Map<String, String> loops = new ConcurrentHashMap<>();
  private volatile Naming naming = Naming.NVME_SYSFS;
  private volatile long sizeBytes = Sizes.GIB;
  private int nextNvme = 1;

  /**
   * @param root this host's directories (dev, sys/block, mount root)
   * @param images where volumes keep their data: shared by every host, as EBS is
   */
  FakeHypervisor(Path root, Path images, String instanceId, String zone, Backing backing) throws IOException {
    this.root = root;
    this.images = images;
    this.instanceId = instanceId;
    this.zone = zone;
    this.backing = backing;
    Files.createDirectories(devDir());
    Files.createDirectories(sysBlockDir());
    Files.createDirectories(byIdDir());
    Files.createDirectories(images);
  }

  Path root() {
    return root;
  }

  String instanceId() {
    return instanceId;
  }

  String zone() {
    return zone;
  }

  Path devDir() {
    return root.resolve("dev");
  }

  Path sysBlockDir() {
    return root.resolve("sys/block");
  }

  Path byIdDir() {
    return root.resolve("dev/disk/by-id");
  }

  void naming(Naming n) {
    this.naming = n;
  }

  /** The size of images made from now on (sparse). */
  void imageSize(long bytes) {
    this.sizeBytes = bytes;
  }

  /** Settings that point the provider's discovery at this fake host. */
  Map<String, String> settings() {
    return Map.of(EbsConfig.DEV_DIR, devDir().toString(), EbsConfig.SYS_BLOCK_DIR, sysBlockDir().toString(),
        EbsConfig.BY_ID_DIR, byIdDir().toString());
  }

  boolean plugged(String volumeId) {
    return links.containsKey(volumeId);
  }

  @Override
  public void afterExecution(Context.AfterExecution context, ExecutionAttributes attrs) {
    Object r = context.response();
    if (r instanceof AttachVolumeResponse a && instanceId.equals(a.instanceId())) {
      plug(a.volumeId(), a.device());
    } else if (r instanceof DetachVolumeResponse d && instanceId.equals(d.instanceId())) {
      unplug(d.volumeId());
    } else if (r instanceof ModifyVolumeResponse m && m.volumeModification().targetSize() != null) {
      resize(m.volumeModification().volumeId(), m.volumeModification().targetSize() * Sizes.GIB);
    } else if (context.request() instanceof DeleteVolumeRequest del) {
      try {
        Files.deleteIfExists(image(del.volumeId()));
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private Path image(String volumeId) {
    return images.resolve(volumeId + ".img");
  }

  synchronized void plug(String volumeId, String ec2Device) {
    try {
      Path img = image(volumeId);
      if (!Files.exists(img)) {
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
          f.setLength(backing == Backing.LOOP ? sizeBytes : 0);
        }
      }
      Path target = img;
      if (backing == Backing.LOOP) {
        Commands.Result r = commands.run(List.of("losetup", "--find", "--show", img.toString()), Duration.ofSeconds(20));
        if (!r.ok()) {
          throw new IllegalStateException("losetup failed: " + r.diagnostics());
        }
        String loop = r.stdout().strip();
        loops.put(volumeId, loop);
        target = Path.of(loop);
      }
      String serial = volumeId.replace("-", "");
      Path link;
      switch (naming) {
        case NVME_SYSFS: {
          String ns = "nvme" + nextNvme++ + "n1";
          Path dev = sysBlockDir().resolve(ns).resolve("device");
          Files.createDirectories(dev);
          Files.writeString(dev.resolve("serial"), String.format("%-20s%n", serial));
          link = devDir().resolve(ns);
          break;
        }
        case NVME_BY_ID:
          link = byIdDir().resolve(DeviceDiscovery.BY_ID_PREFIX + serial);
          break;
        default:
          link = devDir().resolve("xvd" + DeviceDiscovery.letter(ec2Device).orElseThrow());
      }
      Files.createSymbolicLink(link, target);
      links.put(volumeId, link);
    } catch (IOException e) {
      throw new IllegalStateException("plugging " + volumeId + ": " + e, e);
    }
  }

  /** The volume grew: so does its image, and a loop device over it learns the new size. */
  synchronized void resize(String volumeId, long bytes) {
    Path img = image(volumeId);
    if (!Files.exists(img)) {
      return;
    }
    try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
      if (f.length() < bytes) {
        f.setLength(bytes);
      }
    } catch (IOException e) {
      throw new IllegalStateException("resizing " + img + ": " + e, e);
    }
    String loop = loops.get(volumeId);
    if (loop != null) {
      Commands.Result r = commands.run(List.of("losetup", "--set-capacity", loop), Duration.ofSeconds(20));
      if (!r.ok()) {
        throw new IllegalStateException("losetup --set-capacity " + loop + " failed: " + r.diagnostics());
      }
    }
  }

  synchronized void unplug(String volumeId) {
    try {
      Path link = links.remove(volumeId);
      if (link != null) {
        Files.deleteIfExists(link);
        if (link.getParent().equals(devDir()) && link.getFileName().toString().startsWith("nvme")) {
          Path sys = sysBlockDir().resolve(link.getFileName().toString());
          Files.deleteIfExists(sys.resolve("device/serial"));
          Files.deleteIfExists(sys.resolve("device"));
          Files.deleteIfExists(sys);
        }
      }
      String loop = loops.remove(volumeId);
      if (loop != null) {
        Commands.Result r = commands.run(List.of("losetup", "--detach", loop), Duration.ofSeconds(20));
        if (!r.ok()) {
          throw new IllegalStateException("losetup --detach " + loop + " failed: " + r.diagnostics());
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("unplugging " + volumeId + ": " + e, e);
    }
  }

  /** Unplugs everything still plugged (end of a test class: no loop device may leak). */
  void unplugAll() {
    for (String id : List.copyOf(links.keySet())) {
      unplug(id);
    }
  }
}
