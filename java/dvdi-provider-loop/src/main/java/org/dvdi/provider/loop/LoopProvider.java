package org.dvdi.provider.loop;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.Settings;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.HostInfo;
import org.dvdi.spi.host.KernelMounts;

/**
 * A small external array on a local disk: sparse image files in a pool directory, attached
 * as loop devices, formatted when new, mounted under the mount root. The pool records which
 * agent holds each volume, with a lease that the holder renews while it holds the volume
 * ({@link #renewLeases}); a second holder is refused unless {@code preempt} is set, which takes
 * the volume over once the holder's lease has expired (like REX-Ray's preempt: "equivalent to a
 * power off" of the other holder's use). Several agents may share one pool, so a volume can
 * move between them; an agent sees only its own host's loop devices and mounts, so the lease is
 * what tells it that another host's holder has stopped.
 */
public final class LoopProvider implements VolumeProvider {
  private static final Logger LOG = Logger.getLogger(LoopProvider.class.getName());

  /** Settings ({@code providers.loop.*}) and their defaults. */
  public static final String SET_POOL = "pool";
  public static final String DEFAULT_POOL = "/var/lib/dvdi/loop-pool";
  public static final String SET_PREEMPT = "preempt";
  public static final String SET_DEFAULT_SIZE = "default-size";
  public static final long DEFAULT_SIZE = Sizes.GIB;
  public static final String SET_MAX_SIZE = "max-size";
  public static final long DEFAULT_MAX_SIZE = 64 * Sizes.GIB;
  public static final String SET_LOCK_TIMEOUT = "lock-timeout";
  /** How long a holder's lease runs; it is renewed every third of it. */
  public static final String SET_LEASE = "lease";
  public static final Duration DEFAULT_LEASE = Duration.ofSeconds(60);
  static final Duration MIN_LEASE = Duration.ofSeconds(1);
  public static final Set<String> SETTINGS = Set.of(SET_POOL, SET_PREEMPT, SET_DEFAULT_SIZE, SET_MAX_SIZE, SET_LOCK_TIMEOUT,
      SET_LEASE);

  /** Request options. */
  public static final String OPT_SIZE = "size";
  /**
   * Create only: write metadata for an image in the pool that has none, keeping its data
   * ({@code dvdi create loop/<name> -O adopt=true}). A task's request never gets that far:
   * inspect refuses such an image.
   */
  public static final String OPT_ADOPT = "adopt";
  private static final Set<String> OPTIONS;

  static {
    Set<String> o = new HashSet<>(BlockVolumes.OPTIONS);
    o.add(OPT_SIZE);
    o.add(OPT_ADOPT);
    OPTIONS = Set.copyOf(o);
  }

  /** Provider data keys. */
  static final String DATA_IMAGE = "image";

  /** Smallest image mkfs.ext4 and mkfs.xfs both accept comfortably. */
  static final long MIN_SIZE = 16 * Sizes.MIB;

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

  /**
   * What the provider is given of its host, each a seam: the wall clock (milliseconds since
   * the epoch, for the pool's records and leases), the host's boot id (loop devices live as
   * long as a boot) and the loop devices this host sees. Tests model hosts that share one pool
   * on one machine with them.
   */
  record HostView(LongSupplier clock, String bootId, LoopDevices loops) {
    static HostView real(Commands commands) {
      return new HostView(System::currentTimeMillis, HostInfo.bootId(), new LoopDevices(commands));
    }
  }

  private final String driver;
  private final String instance;
  private final Path mountRoot;
  private final LoopPool pool;
  private final boolean preempt;
  private final long defaultSize;
  private final long maxSize;
  private final Duration lockTimeout;
  private final Commands commands;
  private final LoopDevices loops;
  private final LongSupplier clock;
  private final String bootId;
  private final BlockVolumes block;
  private final long leaseMs;
  /** How often the leases are renewed: a third of the lease, so that two renewals may fail. */
  private final Duration renewEvery;
  /** The volumes this provider holds, whose leases it renews. */
  private final Set<String> held = ConcurrentHashMap.newKeySet();
  /** Whether the pool was searched for records that name this instance (left by an earlier run). */
  private volatile boolean found;
  /** The renewals' timer, or null when a test runs them itself. */
  private final ScheduledExecutorService renewer;

  LoopProvider(String driver, ProviderContext ctx) {
    this(driver, ctx, HostView.real(ctx.commands()), true);
  }

  /** {@code renewOnTimer}: false when the caller runs {@link #renewLeases} itself (tests, at the times they choose). */
  LoopProvider(String driver, ProviderContext ctx, HostView host, boolean renewOnTimer) {
    Settings s = ctx.settings();
    s.requireOnly(SETTINGS);
    this.driver = driver;
    this.instance = ctx.instanceId();
    this.mountRoot = ctx.mountRoot().resolve(driver);
    this.clock = host.clock();
    this.pool = new LoopPool(s.getPath(SET_POOL, DEFAULT_POOL), driver, clock);
    this.preempt = s.getBoolean(SET_PREEMPT, false);
    this.defaultSize = s.getSize(SET_DEFAULT_SIZE, DEFAULT_SIZE);
    this.maxSize = s.getSize(SET_MAX_SIZE, DEFAULT_MAX_SIZE);
    this.lockTimeout = s.getDuration(SET_LOCK_TIMEOUT, Duration.ofSeconds(30));
    Duration lease = s.getDuration(SET_LEASE, DEFAULT_LEASE);
    if (lease.compareTo(MIN_LEASE) < 0) {
      throw s.bad(SET_LEASE, lease.toMillis() + "ms", "providers.loop.lease must be at least " + MIN_LEASE.toSeconds()
          + "s (it is renewed every third of it)");
    }
    this.leaseMs = lease.toMillis();
    this.renewEvery = lease.dividedBy(3);
    if (defaultSize < MIN_SIZE || defaultSize > maxSize) {
      throw s.bad(SET_DEFAULT_SIZE, Sizes.format(defaultSize), "must be from " + Sizes.format(MIN_SIZE)
          + " to max-size (" + Sizes.format(maxSize) + ")");
    }
    this.commands = ctx.commands();
    this.loops = host.loops();
    this.bootId = host.bootId();
    this.block = new BlockVolumes(ctx.commands());
    if (renewOnTimer) {
      renewer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dvdi-loop-lease-" + driver);
        t.setDaemon(true);
        return t;
      });
      // The first pass at once: after a restart, the leases of the volumes still held here.
      renewer.scheduleWithFixedDelay(this::renewLeasesLogged, 0, renewEvery.toMillis(), TimeUnit.MILLISECONDS);
    } else {
      renewer = null;
    }
  }

  /** Stops renewing leases: they expire one lease after the last renewal, unless the next run of this agent renews them. */
  @Override
  public void close() {
    if (renewer != null) {
      renewer.shutdownNow();
    }
  }

  private String label(String name) {
    return "loop volume " + driver + "/" + name;
  }

  @Override
  public String driver() {
    return driver;
  }

  @Override
  public Capabilities capabilities() {
    return new Capabilities(true);
  }

  Path pool() {
    return pool.dir();
  }

  @Override
  public void validate(String name, VolumeOptions options) {
    if (!NAME.matcher(name).matches()) {
      throw DvdiException.invalid("volume name '" + name + "' is not a valid loop volume name");
    }
    options.requireOnly(OPTIONS, driver);
    size(options);
    options.getBoolean(OPT_ADOPT, false);
    block.validate(options);
  }

  private long size(VolumeOptions options) {
    long size = options.getSizeBytes(OPT_SIZE, defaultSize);
    if (size < MIN_SIZE || size > maxSize) {
      throw DvdiException.invalid(options.origin() + " option 'size' is " + Sizes.format(size)
          + ": must be from " + Sizes.format(MIN_SIZE) + " to " + Sizes.format(maxSize)
          + " (providers.loop.max-size)");
    }
    return size;
  }

  @Override
  public Optional<VolumeInfo> inspect(String name, CallContext ctx) {
    return pool.read(name).map(this::info);
  }

  private VolumeInfo info(LoopPool.Meta m) {
    List<String> devs = loops.backedBy(pool.image(m.name()));
    Map<String, String> details = new LinkedHashMap<>();
    if (!devs.isEmpty()) {
      details.put("devices", String.join(",", devs));
    }
    if (m.held()) {
      details.put("lease-until", m.leaseEnd());
    }
    return new VolumeInfo(driver, m.name(), pool.image(m.name()).toString(), m.sizeBytes(),
        m.held() ? "in-use" : "available", m.holder(), Map.copyOf(details));
  }

  /**
   * Every name the pool holds files of: volumes, and also creations not finished (status
   * {@code creating}), images without metadata ({@code no-metadata}), metadata without an
   * image ({@code no-image}) and names whose files cannot be read ({@code unreadable}), each
   * of those with detail {@code problem} saying what to do.
   */
  @Override
  public List<VolumeInfo> list(CallContext ctx) {
    List<VolumeInfo> out = new ArrayList<>();
    for (String n : pool.names()) {
      String img = pool.image(n).toString();
      LoopPool.Entry e;
      try {
        e = pool.find(n);
      } catch (DvdiException ex) {
        out.add(new VolumeInfo(driver, n, img, -1, "unreadable", "", Map.of("problem", ex.getMessage())));
        continue;
      }
      switch (e.presence()) {
        case ABSENT -> { } // removed meanwhile
        case VOLUME -> out.add(info(e.meta().orElseThrow()));
        default -> out.add(new VolumeInfo(driver, n, img, e.meta().map(LoopPool.Meta::sizeBytes).orElse(e.imageBytes()),
            e.presence().status(), e.meta().map(LoopPool.Meta::holder).orElse(""), Map.of("problem", pool.problem(e))));
      }
    }
    return out;
  }

  /**
   * Creates the volume, finishes its interrupted creation, or (with {@code adopt=true}) adopts
   * an image without metadata; an existing volume is returned as it is. An image without
   * metadata (unless adopted) and metadata without an image are refused: no file is replaced.
   */
  @Override
  public VolumeInfo create(String name, VolumeOptions options, CallContext ctx) {
    validate(name, options);
    long size = size(options);
    boolean adopt = options.getBoolean(OPT_ADOPT, false);
    return pool.locked(name, lockTimeout, () -> {
      LoopPool.Entry e = pool.find(name);
      switch (e.presence()) {
        case VOLUME:
          return info(e.meta().orElseThrow());
        case NO_METADATA:
          if (!adopt) {
            throw pool.refusal(e);
          }
          LoopPool.Meta adopted = pool.adopt(e);
          LOG.warning("adopted image " + pool.image(name) + " (" + Sizes.format(adopted.sizeBytes()) + ", its data kept) as loop volume "
              + driver + "/" + name);
          return info(adopted);
        case NO_IMAGE:
          throw pool.refusal(e);
        default: // ABSENT or CREATING
          if (adopt) {
            throw DvdiException.notFound("loop volume " + driver + "/" + name + ": nothing to adopt: "
                + (e.presence() == LoopPool.Presence.ABSENT ? "the pool has no image " + pool.image(name) : pool.problem(e)));
          }
          LoopPool.Meta m = pool.create(e, size);
          LOG.info((e.presence() == LoopPool.Presence.CREATING ? "finished creating" : "created") + " loop volume " + driver
              + "/" + name + " (" + Sizes.format(m.sizeBytes()) + ") in " + pool.dir());
          return info(m);
      }
    });
  }

  @Override
  public Attachment attach(String name, VolumeOptions options, CallContext ctx) {
    Path img = pool.image(name);
    return pool.locked(name, lockTimeout, () -> {
      LoopPool.Meta m = pool.read(name).orElseThrow(() -> DvdiException.notFound(
          label(name) + " does not exist in " + pool.dir()));
      long now = clock.getAsLong();
      if (m.held() && !m.holder().equals(instance)) {
        String heldBy = label(name) + " is held by '" + m.holder() + "' since " + Instant.ofEpochMilli(m.holderSinceMs())
            + ", its lease ending " + m.leaseEnd();
        if (m.leaseLive(now)) {
          throw DvdiException.busy(heldBy + (preempt
              ? "; preempt takes a volume over only after its holder's lease has expired (a holder renews its lease"
                  + " while it holds the volume)"
              : " (set providers.loop.preempt=true to take volumes over once their holder's lease has expired)"));
        }
        if (!preempt) {
          throw DvdiException.busy(heldBy + " (expired; set providers.loop.preempt=true to take volumes over)");
        }
        LOG.warning("preempt: taking " + label(name) + " over from '" + m.holder() + "', whose lease expired at " + m.leaseEnd());
        takeOver(name, img, ctx);
      }
      long since = m.holder().equals(instance) ? m.holderSinceMs() : now;
      pool.write(m.withHolder(instance, since, bootId, now + leaseMs));
      held.add(name);
      List<String> devs = loops.backedBy(img);
      String dev = devs.isEmpty() ? loops.attach(img, ctx) : devs.get(0);
      return new Attachment(dev, Map.of(DATA_IMAGE, img.toString()));
    });
  }

  /**
   * Force-releases another holder's use visible from this host (the caller found its lease
   * expired): lazily unmounts its mounts of the volume, then detaches its loop devices. A
   * holder on another host keeps its device and mounts there, until its own release detaches
   * them ({@link #detach}). Like a power-off of the other holder, this
   * is the operator's choice (preempt): processes of the other holder that still have files
   * open keep a reference until they exit. A device still mounted in another mount namespace
   * (a container's bind) is not detached (VOLUME_BUSY): the kernel would keep it alive under
   * that mount, and this holder's new loop device would be a second writer on the image.
   */
  private void takeOver(String name, Path img, CallContext ctx) {
    for (String dev : loops.backedBy(img)) {
      for (KernelMounts.Mount mt : KernelMounts.read().ofSource(dev)) {
        commands.check(List.of("umount", "--lazy", mt.mountPoint()), ctx, "preempt: unmounting " + mt.mountPoint());
      }
      BlockVolumes.checkNotMounted(dev, "loop volume " + driver + "/" + name + " to take it over (preempt)");
      loops.detach(dev, ctx);
    }
  }

  @Override
  public MountedVolume mount(String name, VolumeOptions options, Attachment attachment, CallContext ctx) {
    if (attachment.device().isEmpty()) {
      throw DvdiException.internal("mount of loop volume " + name + " without an attached device", null);
    }
    return block.mountAttached(attachment.device(), attachment, mountRoot.resolve(name), options, ctx);
  }

  @Override
  public void unmount(VolumeHandle volume, CallContext ctx) {
    block.unmount(volume, mountRoot.resolve(volume.name()), ctx);
  }

  /**
   * Detaches this host's loop devices of the volume (never one still mounted in any mount
   * namespace) and clears the holder when it is this agent. When another agent holds it (it
   * took the volume over), this host's devices are still detached if the holder is on another
   * host (its recorded boot is not this host's): they are this agent's, left live by the
   * takeover. A holder on this host (this boot), or of unknown boot (format 1), may own the
   * devices here: they are left to it.
   */
  @Override
  public void detach(VolumeHandle volume, CallContext ctx) {
    String name = volume.name();
    Path img = pool.image(name);
    pool.locked(name, lockTimeout, () -> {
      Optional<LoopPool.Meta> meta = pool.find(name).meta(); // also of a volume refused by inspect (undo)
      boolean ours = meta.isEmpty() || !meta.get().held() || meta.get().holder().equals(instance);
      if (!ours && (meta.get().holderBoot().isEmpty() || meta.get().holderBoot().equals(bootId))) {
        return null; // held by another agent of this host (or of a host unknown): the devices here may be its own
      }
      List<String> devs = loops.backedBy(img);
      for (String dev : devs) {
        BlockVolumes.checkNotMounted(dev, label(name));
        loops.detach(dev, ctx);
      }
      held.remove(name);
      if (ours) {
        meta.filter(LoopPool.Meta::held).ifPresent(m -> pool.write(m.withoutHolder()));
      } else if (!devs.isEmpty()) {
        LOG.warning(label(name) + ": detached this host's " + devs + ", left live when '" + meta.get().holder()
            + "' (on another host) took the volume over; its record is left to it");
      }
      return null;
    });
  }

  /**
   * One pass of lease renewals, on the renewals' own thread (never in a provider call): each
   * volume this agent holds gets its lease extended by one lease, under the volume's lock (waiting
   * at most a renewal period for it). The first pass also finds the records that name this
   * agent (volumes it held before a restart). A record that now names another holder (it was
   * taken over) or none is logged and no longer renewed; a renewal that fails (the pool cannot
   * be reached) is logged and tried again at the next pass.
   */
  void renewLeases() {
    if (!found) {
      findHeld();
    }
    for (String name : List.copyOf(held)) {
      renew(name);
    }
  }

  private void renewLeasesLogged() {
    try {
      renewLeases();
    } catch (RuntimeException e) { // a scheduled task that throws is never run again
      LOG.log(Level.SEVERE, "renewing the leases of loop volumes of " + driver + " failed; tried again in " + renewEvery.toMillis()
          + " ms", e);
    }
  }

  private void findHeld() {
    List<String> names;
    try {
      names = pool.names();
    } catch (DvdiException e) {
      LOG.warning("cannot list the loop pool to find the volumes this agent holds, to renew their leases (tried again in "
          + renewEvery.toMillis() + " ms): " + e.getMessage());
      return;
    }
    boolean all = true;
    for (String name : names) {
      try {
        pool.find(name).meta().filter(m -> m.holder().equals(instance)).ifPresent(m -> held.add(name));
      } catch (DvdiException e) {
        all = false;
        LOG.warning("cannot read " + label(name) + " to renew its lease if this agent holds it (tried again in "
            + renewEvery.toMillis() + " ms): " + e.getMessage());
      }
    }
    found = all;
  }

  private void renew(String name) {
    Duration wait = lockTimeout.compareTo(renewEvery) < 0 ? lockTimeout : renewEvery;
    try {
      pool.locked(name, wait, () -> {
        if (!held.contains(name)) {
          return null; // released meanwhile
        }
        Optional<LoopPool.Meta> m = pool.find(name).meta();
        if (m.isEmpty() || !m.get().held()) {
          held.remove(name);
          LOG.warning(label(name) + ": its pool record names no holder any more while this agent ('" + instance + "') held it"
              + " (released by another process of this agent, such as the dvdi CLI, or taken over and released): its lease"
              + " is not renewed any more");
          return null;
        }
        if (!m.get().holder().equals(instance)) {
          held.remove(name);
          LoopPool.Meta o = m.get();
          boolean elsewhere = !o.holderBoot().isEmpty() && !o.holderBoot().equals(bootId);
          LOG.severe(label(name) + " was taken over by '" + o.holder() + "' (since " + Instant.ofEpochMilli(o.holderSinceMs())
              + ") while this agent ('" + instance + "') held it: its lease is not renewed any more"
              + (elsewhere ? "; this host's loop devices of it " + loops.backedBy(pool.image(name)) + " stay attached (a second"
                  + " writer beside '" + o.holder() + "', on another host) until it is released here, which detaches them" : ""));
          return null;
        }
        long now = clock.getAsLong();
        if (!m.get().leaseLive(now)) {
          LOG.warning(label(name) + ": the lease of this agent ('" + instance + "') had expired (at " + m.get().leaseEnd()
              + "), so another agent could have taken it over meanwhile; renewed now");
        }
        pool.write(m.get().withLease(now + leaseMs));
        return null;
      });
    } catch (RuntimeException e) {
      LOG.warning("cannot renew the lease of " + label(name) + " held by this agent ('" + instance + "'), tried again in "
          + renewEvery.toMillis() + " ms: " + e.getMessage());
    }
  }

  @Override
  public void remove(String name, CallContext ctx) {
    pool.locked(name, lockTimeout, () -> {
      LoopPool.Entry entry = pool.find(name);
      if (entry.presence() == LoopPool.Presence.NO_METADATA) {
        throw pool.refusal(entry);
      }
      Optional<LoopPool.Meta> m = entry.meta(); // of a volume, an unfinished creation, or metadata without an image
      if (m.isEmpty()) {
        throw DvdiException.notFound("loop volume " + driver + "/" + name + " does not exist in " + pool.dir());
      }
      if (m.get().held()) {
        throw DvdiException.busy("loop volume " + driver + "/" + name + " is held by '" + m.get().holder()
            + "'; release it first");
      }
      if (!loops.backedBy(pool.image(name)).isEmpty()) {
        throw DvdiException.busy("loop volume " + driver + "/" + name + " is attached to "
            + loops.backedBy(pool.image(name)));
      }
      try {
        pool.delete(name);
      } catch (IOException e) {
        throw DvdiException.provider("cannot remove loop volume " + name + ": " + e.getMessage(), e);
      }
      LOG.info("removed loop volume " + driver + "/" + name);
      return null;
    });
  }
}
