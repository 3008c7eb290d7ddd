package org.dvdi.provider.ebs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;

/**
 * Finds the block device an attached EBS volume appeared as on this host.
 *
 * <p>On Nitro instances EBS volumes are NVMe namespaces and the device name given to
 * AttachVolume means nothing locally: the controller's serial number is the volume id
 * without its dash ({@code vol0123456789abcdef0}), visible in
 * {@code /sys/block/nvme*}{@code /device/serial} and in udev's
 * {@code /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol...} links. On Xen instances the
 * device is the name asked for, with {@code sd} shown as {@code xvd} ({@code /dev/sdf} is
 * {@code /dev/xvdf}). The serial is checked first: it identifies the volume itself, not a slot.
 *
 * <p>The three directories are settings so that tests can stand in devices of their own
 * (links to loop devices) and go through this very code.
 */
final class DeviceDiscovery {
  static final String BY_ID_PREFIX = "nvme-Amazon_Elastic_Block_Store_";

  private static final Pattern DEVICE_LETTER = Pattern.compile("(?:/dev/)?(?:xvd|sd)([a-z])[0-9]*");

  private final Path devDir;
  private final Path sysBlockDir;
  private final Path byIdDir;

  DeviceDiscovery(Path devDir, Path sysBlockDir, Path byIdDir) {
    this.devDir = devDir;
    this.sysBlockDir = sysBlockDir;
    this.byIdDir = byIdDir;
  }

  /**
   * The device of {@code volumeId}, attached as {@code ec2Device} (e.g. /dev/xvdf; may be
   * empty when unknown), if it is there now.
   */
  Optional<Path> find(String volumeId, String ec2Device) {
    String serial = volumeId.replace("-", "");
    Optional<Path> nvme = bySerial(serial);
    if (nvme.isPresent()) {
      return nvme;
    }
    Optional<Path> link = byId(serial);
    if (link.isPresent()) {
      return link;
    }
    Optional<Character> letter = letter(ec2Device);
    if (letter.isPresent()) {
      for (String prefix : new String[] {"xvd", "sd"}) {
        Path p = devDir.resolve(prefix + letter.get());
        if (Files.exists(p)) {
          return Optional.of(p);
        }
      }
    }
    return Optional.empty();
  }

  /** Waits (polling with backoff, bounded by the call's deadline) until the device is there. */
  Path await(String volumeId, String ec2Device, CallContext ctx, String volume) {
    long sleep = 10;
    while (true) {
      Optional<Path> p = find(volumeId, ec2Device);
      if (p.isPresent()) {
        return p.get();
      }
      if (ctx.remaining().isNegative() || ctx.remaining().isZero()) {
        throw DvdiException.timeout(ctx.operation() + ": EBS volume " + volume + " (" + volumeId + ") is attached as "
            + ec2Device + ", but no block device for it appeared on this host by the call's deadline (looked for"
            + " NVMe serial " + volumeId.replace("-", "") + " in " + sysBlockDir + "/nvme*/device/serial, "
            + byIdDir.resolve(BY_ID_PREFIX + volumeId.replace("-", "")) + describeNames(ec2Device) + ")");
      }
      Backoff.sleep(Math.min(sleep, Math.max(1, ctx.remaining().toMillis())), ctx);
      sleep = Math.min(sleep * 2, 500);
    }
  }

  private String describeNames(String ec2Device) {
    return letter(ec2Device).map(l -> ", " + devDir.resolve("xvd" + l) + ", " + devDir.resolve("sd" + l)).orElse("");
  }

  private Optional<Path> bySerial(String serial) {
    if (!Files.isDirectory(sysBlockDir)) {
      return Optional.empty();
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(sysBlockDir, "nvme*")) {
      for (Path dev : ds) {
        Path s = dev.resolve("device").resolve("serial");
        String text;
        try {
          text = Files.readString(s).strip();
        } catch (IOException e) {
          continue; // not an NVMe namespace with a serial, or gone meanwhile
        }
        if (text.equals(serial)) {
          Path node = devDir.resolve(dev.getFileName().toString());
          if (Files.exists(node)) {
            return Optional.of(node);
          }
        }
      }
    } catch (IOException e) {
      throw DvdiException.provider("cannot list NVMe devices in " + sysBlockDir + ": " + e.getMessage(), e);
    }
    return Optional.empty();
  }

  private Optional<Path> byId(String serial) {
    for (String suffix : new String[] {"", "_1", "-ns-1"}) {
      Path p = byIdDir.resolve(BY_ID_PREFIX + serial + suffix);
      if (Files.exists(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** Letters of xvd/sd devices present on this host (so that AttachVolume does not pick them). */
  Set<Character> localLetters() {
    Set<Character> out = new TreeSet<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(devDir, "{xvd,sd}?")) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        out.add(n.charAt(n.length() - 1));
      }
    } catch (IOException e) {
      throw DvdiException.provider("cannot list block devices in " + devDir + ": " + e.getMessage(), e);
    }
    return out;
  }

  /** The letter of /dev/sdX or /dev/xvdX (partitions included: /dev/sda1 is a). */
  static Optional<Character> letter(String deviceName) {
    if (deviceName == null) {
      return Optional.empty();
    }
    Matcher m = DEVICE_LETTER.matcher(deviceName);
    return m.matches() ? Optional.of(m.group(1).charAt(0)) : Optional.empty();
  }
}
