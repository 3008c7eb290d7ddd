package org.dvdi.core.seams;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.LongSupplier;
import org.dvdi.spi.host.KernelMounts;

/**
 * A simulated {@link Host}: one machine's mount table, filesystems, device nodes, processes and
 * boot, as a model (DESIGN.md, "Seams"). Mounts go away behind dvdi's back ({@link #umount}),
 * device nodes vanish ({@link #removeNode}), pids end and are given to new processes
 * ({@link #kill}, {@link #spawn}), the machine reboots ({@link #reboot}).
 *
 * <p>Filesystems hold directories, block device nodes and symbolic links. A path is on the
 * filesystem of the latest mount at or above it (which is how the kernel's tree resolves, as
 * mounts are only made on visible paths), else on the root filesystem; its {@code st_dev} is
 * that filesystem's dev. A block device's filesystem has the device's number as its dev and
 * keeps its content across umount and mount; a new filesystem ({@link #mountNew}, as tmpfs or a
 * plugin's) has a fresh dev and is gone with its last mount. Only a path's last component may
 * be a link.
 *
 * <p>One SimHost is one process on the machine ({@link #pid}); {@link #newProcess} gives another
 * process's view of the same machine (an agent and a CLI on one host). Start times of processes
 * only grow, so a reused pid never has its earlier holder's start time. All methods are
 * thread-safe (on the machine's lock).
 */
public final class SimHost implements Host {
  /** The root filesystem's dev, 8:1 (as /dev/sda1). */
  public static final long ROOT_DEV = makedev(8, 1);
  /** The source the root filesystem is mounted from. */
  public static final String ROOT_SOURCE = "/dev/sda1";
  /** The pids the kernel hands out: from {@code PID_MIN} up, then again from it after {@code PID_MAX}. */
  public static final long PID_MIN = 300;
  public static final long PID_MAX = 32768;
  /** The start time of the first process when no clock is given. */
  public static final long EPOCH_MS = 1_700_000_000_000L;

  static final int DIR = 0040755;
  static final int BLOCK = 0060660;
  static final int LINK = 0120777;
  /** Linux's limit of links followed in one lookup. */
  static final int MAX_LINKS = 40;

  private record Entry(int mode, long rdev, String target) {}

  private static final class Filesystem {
    final long dev;
    final String fsType;
    /** By path relative to the filesystem's root (no leading '/'); the root itself is implicit. */
    final Map<String, Entry> entries = new HashMap<>();

    Filesystem(long dev, String fsType) {
      this.dev = dev;
      this.fsType = fsType;
    }
  }

  private record Mount(int id, int parentId, String mountPoint, String source, Filesystem fs) {}

  /** What the processes of one machine share. */
  private static final class Machine {
    final String name;
    final LongSupplier clockMs;
    /** The root filesystem and every block device's filesystem, by dev. */
    final Map<Long, Filesystem> filesystems = new HashMap<>();
    /** In mount order, the root filesystem's first. */
    final List<Mount> mounts = new ArrayList<>();
    /** Running processes: pid to start time (ms since the epoch). */
    final Map<Long, Long> processes = new TreeMap<>();
    int boots;
    String bootId;
    int nextMountId = 1;
    long nextPid = PID_MIN;
    long lastStartMs = Long.MIN_VALUE;
    long nextAnonymousMinor = 40;
    long nextBlockMinor = 0;
    /** How many times the mount table was read, by any process. */
    long mountTableReads;

    Machine(String name, LongSupplier clockMs) {
      this.name = name;
      this.clockMs = clockMs;
      Filesystem root = new Filesystem(ROOT_DEV, "ext4");
      filesystems.put(ROOT_DEV, root);
      boot();
    }

    void boot() {
      boots++;
      bootId = name + "-boot-" + boots;
      processes.clear();
      nextPid = PID_MIN;
      mounts.clear();
      mounts.add(new Mount(nextMountId++, 0, "/", ROOT_SOURCE, filesystems.get(ROOT_DEV)));
    }
  }

  private final Machine m;
  private final long self;

  /** A machine named "sim" whose processes start at {@link #EPOCH_MS} and after. */
  public SimHost() {
    this("sim", () -> EPOCH_MS);
  }

  /**
   * A machine just booted, with this process on it. Boot ids are {@code <name>-boot-<n>};
   * processes start at {@code clockMs} (or just after the previous one started, if later).
   */
  public SimHost(String name, LongSupplier clockMs) {
    this.m = new Machine(name, clockMs);
    this.self = spawn();
  }

  private SimHost(Machine m, long self) {
    this.m = m;
    this.self = self;
  }

  /** A new process on the same machine, and its view of it. */
  public SimHost newProcess() {
    return new SimHost(m, spawn());
  }

  // ------------------------------------------------------------------ Host

  @Override
  public String bootId() {
    synchronized (m) {
      return m.bootId;
    }
  }

  @Override
  public KernelMounts mountTable() {
    StringBuilder b = new StringBuilder();
    synchronized (m) {
      m.mountTableReads++;
      for (Mount mt : m.mounts) {
        long dev = mt.fs().dev;
        b.append(mt.id()).append(' ').append(mt.parentId()).append(' ').append(major(dev)).append(':').append(minor(dev))
            .append(" / ").append(escape(mt.mountPoint())).append(" rw,relatime - ").append(mt.fs().fsType).append(' ')
            .append(escape(mt.source())).append(" rw\n");
      }
    }
    return KernelMounts.parse(b.toString());
  }

  @Override
  public FileStat stat(Path path, boolean followLinks) throws IOException {
    synchronized (m) {
      String p = followLinks ? follow(name(path)) : name(path);
      Entry e = entry(p);
      if (e == null) {
        throw new NoSuchFileException(path.toString());
      }
      return new FileStat(visibleMount(p).fs().dev, e.rdev(), e.mode());
    }
  }

  @Override
  public long pid() {
    return self;
  }

  @Override
  public Optional<Long> processStartMs(long pid) {
    synchronized (m) {
      return Optional.ofNullable(m.processes.get(pid));
    }
  }

  /** How many times the machine's mount table was read ({@link #mountTable}, by any of its processes). */
  public long mountTableReads() {
    synchronized (m) {
      return m.mountTableReads;
    }
  }

  // ------------------------------------------------------------------ files

  /** Makes {@code dir} and its missing parents, each on the filesystem it is on then. */
  public void mkdirs(Path dir) throws IOException {
    synchronized (m) {
      String p = name(dir);
      for (String at = "/"; !at.equals(p);) {
        at = Path.of(at).resolve(Path.of(p).getName(Path.of(at).getNameCount())).toString();
        Entry e = entry(at);
        if (e == null) {
          put(at, new Entry(DIR, 0, null));
        } else if (e.mode() != DIR) {
          throw new NotDirectoryException(at);
        }
      }
    }
  }

  /** A block device node at {@code node} for a new device (major 259, the next minor); returns its number. */
  public long createNode(Path node) throws IOException {
    synchronized (m) {
      long rdev = makedev(259, m.nextBlockMinor++);
      createNode(node, rdev);
      return rdev;
    }
  }

  /** A block device node at {@code node} for the device {@code rdev} (another node of a device, as mknod makes). */
  public void createNode(Path node, long rdev) throws IOException {
    create(node, new Entry(BLOCK, rdev, null));
  }

  /** A symbolic link at {@code link} to {@code target} (relative to the link's directory unless absolute). */
  public void link(Path link, String target) throws IOException {
    create(link, new Entry(LINK, 0, target));
  }

  /** Removes the device node or link at {@code path} (a device that went away); false when there was none. */
  public boolean removeNode(Path path) {
    synchronized (m) {
      String p = name(path);
      Entry e = entry(p);
      if (e == null || e.mode() == DIR) {
        return false;
      }
      Mount mt = visibleMount(p);
      mt.fs().entries.remove(relative(mt.mountPoint(), p));
      return true;
    }
  }

  private void create(Path path, Entry e) throws IOException {
    synchronized (m) {
      String p = name(path);
      mkdirs(Path.of(p).getParent());
      if (entry(p) != null) {
        throw new FileAlreadyExistsException(p);
      }
      put(p, e);
    }
  }

  // ------------------------------------------------------------------ mounts

  /**
   * Mounts the filesystem of the block device that {@code node} (or the node it links to) stands
   * for at the directory {@code target}: the target's dev becomes the device's number. Returns it.
   */
  public long mount(Path node, Path target) throws IOException {
    synchronized (m) {
      String source = follow(name(node)); // as mount(8), which names the device, not the link
      FileStat st = stat(Path.of(source), false);
      if (!st.blockDevice()) {
        throw new FileSystemException(node.toString(), null, "Block device required");
      }
      attach(source, m.filesystems.computeIfAbsent(st.rdev(), d -> new Filesystem(d, "ext4")), target);
      return st.rdev();
    }
  }

  /**
   * Mounts a new, empty filesystem ({@code fsType}, from {@code source}: as tmpfs, or a plugin's)
   * at the directory {@code target}, with a fresh dev (major 0). Returns the dev.
   */
  public long mountNew(String source, String fsType, Path target) throws IOException {
    if (source.isEmpty() || !fsType.matches("[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException("a source and a filesystem type's name are needed: '" + source + "', '" + fsType + "'");
    }
    synchronized (m) {
      Filesystem fs = new Filesystem(makedev(0, m.nextAnonymousMinor++), fsType);
      attach(source, fs, target);
      return fs.dev;
    }
  }

  private void attach(String source, Filesystem fs, Path target) throws IOException {
    String t = name(target);
    if (stat(target, false).mode() != DIR) {
      throw new NotDirectoryException(t);
    }
    m.mounts.add(new Mount(m.nextMountId++, visibleMount(t).id(), t, source, fs));
  }

  /**
   * Unmounts the topmost mount at {@code target} (as {@code umount -l}: with the mounts on it),
   * by dvdi or behind its back. Returns false when nothing is mounted there.
   */
  public boolean umount(Path target) {
    synchronized (m) {
      String t = name(target);
      if (t.equals("/")) {
        throw new IllegalArgumentException("the root filesystem stays mounted");
      }
      Mount top = null;
      for (Mount mt : m.mounts) {
        if (mt.mountPoint().equals(t)) {
          top = mt;
        }
      }
      if (top == null) {
        return false;
      }
      Set<Integer> gone = new HashSet<>(List.of(top.id()));
      for (Mount mt : m.mounts) {
        if (gone.contains(mt.parentId())) {
          gone.add(mt.id()); // mounts come after their parents
        }
      }
      m.mounts.removeIf(mt -> gone.contains(mt.id()));
      return true;
    }
  }

  // ------------------------------------------------------------------ processes and boots

  /** Starts a process at the next free pid (wrapping after {@link #PID_MAX}); returns its pid. */
  public long spawn() {
    synchronized (m) {
      for (long n = 0; n <= PID_MAX - PID_MIN; n++) {
        long pid = m.nextPid;
        m.nextPid = pid == PID_MAX ? PID_MIN : pid + 1;
        if (!m.processes.containsKey(pid)) {
          spawn(pid);
          return pid;
        }
      }
      throw new IllegalStateException("no free pid on " + m.name);
    }
  }

  /** Starts a process with the free pid {@code pid} (a pid the kernel gives out again), later than every earlier one. */
  public void spawn(long pid) {
    synchronized (m) {
      if (m.processes.containsKey(pid)) {
        throw new IllegalStateException("pid " + pid + " runs already");
      }
      m.lastStartMs = Math.max(m.clockMs.getAsLong(), m.lastStartMs + 1);
      m.processes.put(pid, m.lastStartMs);
    }
  }

  /** Ends the process {@code pid} (this one too, when it is {@link #pid}); false when it did not run. */
  public boolean kill(long pid) {
    synchronized (m) {
      return m.processes.remove(pid) != null;
    }
  }

  /**
   * Reboots the machine: a new boot id, every process ended (the views of them, this one
   * among them, are of ended processes: {@link #newProcess} makes live ones), nothing mounted
   * but the root filesystem. Files on the root and on block devices stay, device nodes among
   * them (a device still attached comes back; a simulated provider removes those a reboot
   * detaches, as loop devices); new filesystems ({@link #mountNew}) are gone.
   */
  public void reboot() {
    synchronized (m) {
      m.boot();
    }
  }

  // ------------------------------------------------------------------ the model

  private static String name(Path path) {
    if (!path.isAbsolute()) {
      throw new IllegalArgumentException("not an absolute path: " + path);
    }
    return path.normalize().toString();
  }

  /** {@code path} with the links of its last component followed (to where nothing may be). */
  private String follow(String path) throws FileSystemException {
    String p = path;
    for (int links = 0;; links++) {
      Entry e = entry(p);
      if (e == null || e.mode() != LINK) {
        return p;
      }
      if (links == MAX_LINKS) {
        throw new FileSystemException(path, null, "Too many levels of symbolic links");
      }
      p = Path.of(p).resolveSibling(e.target()).normalize().toString();
    }
  }

  /** The latest mount at or above {@code path}: the one whose filesystem the path is on. */
  private Mount visibleMount(String path) {
    Mount found = null;
    for (Mount mt : m.mounts) {
      String mp = mt.mountPoint();
      if (mp.equals("/") || path.equals(mp) || path.startsWith(mp + "/")) {
        found = mt;
      }
    }
    return found;
  }

  private static String relative(String mountPoint, String path) {
    return path.equals(mountPoint) ? "" : path.substring(mountPoint.equals("/") ? 1 : mountPoint.length() + 1);
  }

  private Entry entry(String path) {
    Mount mt = visibleMount(path);
    String rel = relative(mt.mountPoint(), path);
    return rel.isEmpty() ? new Entry(DIR, 0, null) : mt.fs().entries.get(rel);
  }

  private void put(String path, Entry e) {
    Mount mt = visibleMount(path);
    mt.fs().entries.put(relative(mt.mountPoint(), path), e);
  }

  /** mountinfo's octal escapes of space, tab, newline and backslash. */
  private static String escape(String s) {
    return s.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012");
  }

  /** A device number from its major and minor, as glibc's {@code makedev}. */
  public static long makedev(long major, long minor) {
    return ((major & 0xfffL) << 8) | ((major & 0xfffff000L) << 32) | (minor & 0xffL) | ((minor & 0xffffff00L) << 12);
  }

  static long major(long dev) {
    return ((dev >>> 8) & 0xfffL) | ((dev >>> 32) & 0xfffff000L);
  }

  static long minor(long dev) {
    return (dev & 0xffL) | ((dev >>> 12) & 0xffffff00L);
  }
}
