package org.dvdi.provider.loop;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.Scope;
import org.dvdi.spi.Settings;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;

/**
 * A small external array on a local disk: sparse image files in a pool directory, attached
 * as loop devices, formatted when new, mounted under the mount root. The pool records which
 * agent holds each volume; a second holder is refused unless {@code preempt} is set, which
 * takes the volume over (like REX-Ray's preempt: "equivalent to a power off" of the other
 * holder's use). Several agents may share one pool, so a volume can move between them.
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
  public static final Set<String> SETTINGS = Set.of(SET_POOL, SET_PREEMPT, SET_DEFAULT_SIZE, SET_MAX_SIZE, SET_LOCK_TIMEOUT);

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
   * the epoch, for the pool's records) and the loop devices this host sees. Tests model hosts
   * that share one pool on one machine with them.
   */
  record HostView(LongSupplier clock, LoopDevices loops) {
    static HostView real(Commands commands) {
      return new HostView(System::currentTimeMillis, new LoopDevices(commands));
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
  private final BlockVolumes block;

  LoopProvider(String driver, ProviderContext ctx) {
    this(driver, ctx, HostView.real(ctx.commands()));
  }

  LoopProvider(String driver, ProviderContext ctx, HostView host) {
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
    if (defaultSize < MIN_SIZE || defaultSize > maxSize) {
      throw s.bad(SET_DEFAULT_SIZE, Sizes.format(defaultSize), "must be from " + Sizes.format(MIN_SIZE)
          + " to max-size (" + Sizes.format(maxSize) + ")");
    }
    this.commands = ctx.commands();
    this.loops = host.loops();
    this.block = new BlockVolumes(ctx.commands());
  }

  @Override
  public String driver() {
    return driver;
  }

  @Override
  public Capabilities capabilities() {
    return new Capabilities(Scope.GLOBAL, true, true, true, true);
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
    return new VolumeInfo(driver, m.name(), pool.image(m.name()).toString(), m.sizeBytes(),
        m.held() ? "in-use" : "available", m.holder(),
        devs.isEmpty() ? Map.of() : Map.of("devices", String.join(",", devs)));
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
          "loop volume " + driver + "/" + name + " does not exist in " + pool.dir()));
      if (m.held() && !m.holder().equals(instance)) {
        if (!preempt) {
          throw DvdiException.busy("loop volume " + driver + "/" + name + " is held by '" + m.holder()
              + "' since " + java.time.Instant.ofEpochMilli(m.holderSinceMs())
              + " (set providers.loop.preempt=true to take volumes over)");
        }
        LOG.warning("preempt: taking loop volume " + driver + "/" + name + " over from '" + m.holder() + "'");
        takeOver(name, img, ctx);
      }
      if (!m.holder().equals(instance)) {
        pool.write(m.withHolder(instance, clock.getAsLong()));
      }
      List<String> devs = loops.backedBy(img);
      String dev = devs.isEmpty() ? loops.attach(img, ctx) : devs.get(0);
      return new Attachment(dev, Map.of(DATA_IMAGE, img.toString()));
    });
  }

  /**
   * Force-releases another holder's use visible from this host: lazily unmounts its mounts
   * of the volume, then detaches its loop devices. Like a power-off of the other holder, this
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

  @Override
  public void detach(VolumeHandle volume, CallContext ctx) {
    Path img = pool.image(volume.name());
    pool.locked(volume.name(), lockTimeout, () -> {
      Optional<LoopPool.Meta> meta = pool.find(volume.name()).meta(); // also of a volume refused by inspect (undo)
      if (meta.isPresent() && meta.get().held() && !meta.get().holder().equals(instance)) {
        return null; // another agent holds it (or took it over): its devices are not ours to detach
      }
      for (String dev : loops.backedBy(img)) {
        BlockVolumes.checkNotMounted(dev, "loop volume " + driver + "/" + volume.name());
        loops.detach(dev, ctx);
      }
      meta.ifPresent(m -> {
        if (m.holder().equals(instance)) {
          pool.write(m.withHolder("", 0));
        }
      });
      return null;
    });
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
