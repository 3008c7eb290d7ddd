package org.dvdi.spi.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;

/**
 * What happens after a block device appears on this host, shared by every block provider
 * (loop, EBS): find its signatures, make a filesystem only when it has none (or when
 * {@code overwritefs=true}), mount it, and later unmount it. All steps are idempotent.
 */
public final class BlockVolumes {
  private static final Logger LOG = Logger.getLogger(BlockVolumes.class.getName());

  /** Option: the filesystem to make when the device has none. */
  public static final String OPT_NEWFSTYPE = "newfstype";
  /** Option: make a new filesystem even when there is one (destroys the data). */
  public static final String OPT_OVERWRITEFS = "overwritefs";
  /** The options this layer reads; block providers accept them. */
  public static final Set<String> OPTIONS = Set.of(OPT_NEWFSTYPE, OPT_OVERWRITEFS);

  public static final String DEFAULT_FS = "ext4";

  /** Filesystems dvdi makes, with the mkfs argument vector for each (device appended). */
  private static final Map<String, List<String>> MKFS = Map.of(
      "ext4", List.of("mkfs.ext4", "-F", "-q", "-E", "lazy_itable_init=1,lazy_journal_init=1"),
      "ext3", List.of("mkfs.ext3", "-F", "-q"),
      "xfs", List.of("mkfs.xfs", "-f", "-q"));

  /** Provider data key: set to "true" when this mount made a new filesystem. */
  public static final String DATA_FORMATTED = "formatted";

  /**
   * Mount options of every block volume: a volume's content is the task's (or another
   * host's), so its setuid binaries and device nodes must not act on this host.
   */
  public static final String MOUNT_OPTIONS = "nosuid,nodev";

  /** How many processes of another mount namespace a VOLUME_BUSY message names. */
  private static final int MAX_PIDS_NAMED = 5;

  private final Commands commands;
  private final DeviceSignatures signatures;

  public BlockVolumes(Commands commands) {
    this.commands = commands;
    this.signatures = new DeviceSignatures(commands);
  }

  /** Checks {@code newfstype} and {@code overwritefs} before anything is done. */
  public void validate(VolumeOptions options) {
    options.getBoolean(OPT_OVERWRITEFS, false);
    Optional<String> fs = options.get(OPT_NEWFSTYPE);
    if (fs.isPresent()) {
      List<String> mkfs = MKFS.get(fs.get());
      if (mkfs == null) {
        throw DvdiException.invalid(options.origin() + " option 'newfstype' is '" + fs.get()
            + "': must be one of " + new TreeSet<>(MKFS.keySet()));
      }
      if (commands.find(mkfs.get(0)).isEmpty()) {
        throw DvdiException.invalid(options.origin() + " option 'newfstype' is '" + fs.get()
            + "': " + mkfs.get(0) + " is not installed on this host");
      }
    }
  }

  /**
   * Mounts {@code device} at {@code target} (nosuid, nodev), making a filesystem first when
   * the device carries no signature at all, or when {@code overwritefs=true} (then every
   * signature is wiped first, with a warning naming them). A device with any other signature
   * (a partition table, a crypto header, a RAID member, swap, a filesystem beside another
   * signature) is refused with INVALID_REQUEST naming what it carries: retrying cannot help,
   * and formatting it would destroy data. A device that cannot be probed is PROVIDER_FAILURE.
   * Returns the mounted volume; its provider data says whether a filesystem was made
   * ({@link #DATA_FORMATTED}).
   */
  public MountedVolume mountDevice(String device, Path target, VolumeOptions options, CallContext ctx) {
    String dev = canonical(device);
    Optional<KernelMounts.Mount> existing = KernelMounts.read().at(target);
    if (existing.isPresent()) {
      if (canonical(existing.get().source()).equals(dev)) {
        return new MountedVolume(target.toString(), dev, Map.of(DATA_FORMATTED, "false"));
      }
      throw DvdiException.provider("cannot mount " + dev + " at " + target + ": "
          + existing.get().source() + " is mounted there");
    }
    boolean overwrite = options.getBoolean(OPT_OVERWRITEFS, false);
    String wanted = options.get(OPT_NEWFSTYPE).orElse(DEFAULT_FS);
    DeviceSignatures.Probe probe = signatures.probe(dev, ctx);
    Optional<String> fs = overwrite ? Optional.empty() : probe.filesystem();
    boolean formatted = false;
    if (fs.isEmpty()) {
      if (!probe.blank()) {
        if (!overwrite) {
          throw DvdiException.invalid(dev + " has " + probe.describe() + "; refusing to "
              + (probe.hasFilesystem() ? "mount it or to " : "") + "make a filesystem on it: dvdi formats only a"
              + " device with no signature at all. To destroy what is on it, ask for " + OPT_OVERWRITEFS
              + "=true (where the operator allows it) or wipe it yourself (wipefs --all " + dev + ")");
        }
        LOG.warning(ctx.operation() + ": " + OPT_OVERWRITEFS + "=true: wiping " + probe.describe() + " on " + dev
            + " and making a new " + wanted + " filesystem (the data on it is destroyed)");
        commands.check(List.of("wipefs", "--all", dev), ctx, "wiping the signatures on " + dev + " (" + OPT_OVERWRITEFS
            + "=true)");
      }
      List<String> mkfs = new ArrayList<>(MKFS.getOrDefault(wanted, MKFS.get(DEFAULT_FS)));
      mkfs.add(dev);
      commands.check(mkfs, ctx, "making a " + wanted + " filesystem on " + dev);
      fs = Optional.of(wanted);
      formatted = true;
    }
    try {
      Files.createDirectories(target);
    } catch (IOException e) {
      throw DvdiException.provider("cannot create mount point " + target + ": " + e.getMessage(), e);
    }
    commands.check(List.of("mount", "-t", fs.get(), "-o", MOUNT_OPTIONS, dev, target.toString()), ctx,
        "mounting " + dev + " at " + target);
    return new MountedVolume(target.toString(), dev, Map.of(DATA_FORMATTED, Boolean.toString(formatted)));
  }

  /**
   * Mounts an attached volume's {@code device} at {@code target} ({@link #mountDevice}); the
   * result keeps the attachment's provider data beside the mount's, for unmount and detach.
   */
  public MountedVolume mountAttached(String device, Attachment attachment, Path target, VolumeOptions options,
      CallContext ctx) {
    MountedVolume mv = mountDevice(device, target, options, ctx);
    Map<String, String> data = new java.util.HashMap<>(attachment.providerData());
    data.putAll(mv.providerData());
    return new MountedVolume(mv.hostPath(), mv.device(), data);
  }

  /**
   * Unmounts a volume: at the host path its handle records, or at {@code defaultTarget} when it
   * records none (the mount never finished). See {@link #unmount(Path, CallContext)}.
   */
  public void unmount(VolumeHandle volume, Path defaultTarget, CallContext ctx) {
    unmount(volume.hostPath().isEmpty() ? defaultTarget : Path.of(volume.hostPath()), ctx);
  }

  /**
   * Unmounts {@code target} if something is mounted there and removes the empty directory.
   * A mount still in use fails with VOLUME_BUSY: dvdi never detaches a device under a live
   * filesystem.
   */
  public void unmount(Path target, CallContext ctx) {
    while (KernelMounts.read().isMountPoint(target)) {
      Commands.Result r = commands.run(List.of("umount", target.toString()), ctx);
      if (!r.ok()) {
        String d = r.diagnostics();
        if (d.contains("busy")) {
          throw DvdiException.busy("cannot unmount " + target + ": it is still in use (" + d + ")");
        }
        if (!KernelMounts.read().isMountPoint(target)) {
          break; // someone else unmounted it meanwhile
        }
        throw DvdiException.provider("cannot unmount " + target + ": umount exited " + r.exitCode() + ": " + d);
      }
    }
    try {
      if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
        Files.deleteIfExists(target);
      }
    } catch (IOException e) {
      LOG.warning(ctx.operation() + ": could not remove mount point " + target + ": " + e.getMessage());
    }
  }

  /**
   * Fails with VOLUME_BUSY while {@code device} (or a partition of it) is mounted in any mount
   * namespace on this host: dvdi's own (the volume is still mounted), or another (a container's
   * bind mount of the volume, a process that copied the mount table). Detaching it then would
   * pull the device out from under a live filesystem. Every block provider calls this before
   * it detaches; {@code what} names the volume for the message. An unmount needs no such check:
   * it removes only dvdi's own mount (and its propagated copies), never a container's bind.
   */
  public static void checkNotMounted(String device, String what) {
    List<MountNamespaces.Holder> holders = MountNamespaces.holding(device);
    if (holders.isEmpty()) {
      return;
    }
    String own = MountNamespaces.own();
    List<String> where = new ArrayList<>();
    for (MountNamespaces.Holder h : holders) {
      if (h.namespace().equals(own)) {
        where.add("at " + h.mounts().stream().map(KernelMounts.Mount::mountPoint).collect(Collectors.joining(", "))
            + " in dvdi's mount namespace");
      } else {
        List<String> pids = h.pids().stream().limit(MAX_PIDS_NAMED).map(String::valueOf).collect(Collectors.toList());
        where.add("in mount namespace " + h.namespace() + " of pid " + String.join(", ", pids)
            + (h.pids().size() > MAX_PIDS_NAMED ? " and " + (h.pids().size() - MAX_PIDS_NAMED) + " more" : "")
            + " (" + h.mounts().size() + (h.mounts().size() == 1 ? " mount" : " mounts") + "; nsenter -t "
            + h.pids().get(0) + " -m findmnt shows them)");
      }
    }
    throw DvdiException.busy("cannot detach " + what + ": " + canonical(device) + " is still mounted "
        + String.join("; and ", where) + ". It can be detached once nothing mounts it any more");
  }

  /** Waits until {@code device} exists (after an attach), polling with backoff. */
  public static void waitForDevice(Path device, CallContext ctx) {
    long sleep = 10;
    while (!Files.exists(device)) {
      ctx.check("device " + device + " appeared");
      try {
        Thread.sleep(Math.min(sleep, Math.max(1, ctx.remaining().toMillis())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw DvdiException.timeout(ctx.operation() + ": interrupted waiting for " + device);
      }
      sleep = Math.min(sleep * 2, Duration.ofSeconds(1).toMillis());
    }
  }

  /** The real path of a device (following /dev/disk/by-id links), or the path as given. */
  public static String canonical(String device) {
    try {
      return Path.of(device).toRealPath().toString();
    } catch (IOException e) {
      return device;
    }
  }
}
