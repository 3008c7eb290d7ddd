package org.dvdi.core.seams;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.dvdi.spi.host.FileLocks;

/**
 * A simulated {@link Disk}, in memory, for the deterministic simulation (DESIGN.md, "Seams").
 *
 * <p><b>Files.</b> A name stands for a file (an inode: what {@link #id} gives); each file has
 * durable bytes and the writes and truncations made since its last {@link Disk.OpenFile#sync}
 * (pending). Readers see every write at once, as from the page cache.
 *
 * <p><b>Names.</b> Creating, renaming and removing a name is pending in its directory until
 * the directory is synced (which {@link #replace} and {@link #copy} do, as
 * {@link org.dvdi.spi.host.AtomicFiles} does: fsync the temporary file, rename, fsync the
 * directory); a {@link #move} alone is not durable. Directories themselves are durable when
 * made (a simplification: the state directory is made once).
 *
 * <p><b>Crash.</b> {@link #crash()} drops everything pending; {@link #crash(Random)} keeps, of
 * each file's pending operations and of each directory's, a seeded random prefix in order, and
 * may keep a torn prefix of the first write it drops (the disk was writing it when the power
 * went). {@link #cutPowerAfter} stops the world in the middle of a multi-step operation: after
 * that many more steps every call throws {@link PowerCut} (the process is dead; nothing it does
 * reaches the disk) until {@link #crash}.
 *
 * <p><b>Faults.</b> {@link #failNext} makes the next operation of a kind ({@link #failAfter}: the
 * n-th next step) throw an IOException
 * ("Input/output error (injected fdatasync failure)"): a failed write has written its first
 * half (a disk that filled up), a failed sync leaves what it should have made durable pending
 * (it may or may not be on disk after a crash), a failed truncate or rename changed nothing.
 *
 * <p><b>Locks</b> are an in-memory table shared by every store on this disk (the agent's and
 * the CLI's). A conflicting lock is not waited for: it fails at once with the error the real one
 * gives after its timeout. This is right because the simulation's scheduler never yields while a
 * store holds its lock (a store's {@code mutate} runs to its end in one step), so a conflict
 * means a store is blocked for good: a bug, or a test that holds a lock on purpose.
 *
 * <p>Single-threaded, like the simulation. Lock files are not made as files.
 */
public final class SimDisk implements Disk {
  /** The steps the disk takes, each counted, each of which can fail on cue. */
  public enum Op {
    WRITE("write"), SYNC("fdatasync"), TRUNCATE("truncate"), CREATE("create"), RENAME("rename"),
    SYNC_DIR("directory fsync");

    final String word;

    Op(String word) {
      this.word = word;
    }
  }

  /** The power went at a {@link #cutPowerAfter cut}: the process that called is dead. */
  public static final class PowerCut extends Error {
    PowerCut() {
      super("the simulated disk lost power (SimDisk.cutPowerAfter): this process is dead until SimDisk.crash");
    }
  }

  private sealed interface Change permits Write, Truncate {}

  private record Write(long offset, byte[] bytes) implements Change {}

  private record Truncate(long size) implements Change {}

  /** One name in a directory now stands for {@code file} (null: the name is removed). */
  private record Link(String name, Inode file) {}

  private static final class Inode {
    final long id;
    byte[] data;
    byte[] durable;
    final List<Change> pending = new ArrayList<>();

    Inode(long id, byte[] data, byte[] durable) {
      this.id = id;
      this.data = data;
      this.durable = durable;
    }
  }

  private static final class Holders {
    int shared;
    boolean exclusive;
  }

  private final TreeSet<String> dirs = new TreeSet<>();
  private TreeMap<String, Inode> names = new TreeMap<>();
  private TreeMap<String, Inode> durableNames = new TreeMap<>();
  /** Per directory, each pending name operation (one or more links applied at once). */
  private final TreeMap<String, List<List<Link>>> pendingNames = new TreeMap<>();
  private final Map<String, Holders> locks = new HashMap<>();
  private final EnumMap<Op, Integer> faults = new EnumMap<>(Op.class);
  private final EnumMap<Op, Integer> calls = new EnumMap<>(Op.class);
  private long nextInode = 1;
  private long steps;
  private long cutAfter = -1;
  private long failStep = -1;
  private boolean powerOff;
  private long epoch;

  public SimDisk() {
    dirs.add("/");
  }

  // ---- the test's controls

  /** Makes the next {@code op} fail (see the class comment); repeated calls add up. */
  public SimDisk failNext(Op op) {
    return failNext(op, 1);
  }

  public SimDisk failNext(Op op, int times) {
    faults.merge(op, times, Integer::sum);
    return this;
  }

  /** Makes the step after {@code n} more steps fail, whatever it is. */
  public SimDisk failAfter(long n) {
    failStep = steps + n;
    return this;
  }

  /** How many {@code op} steps were taken (failed ones included). */
  public int calls(Op op) {
    return calls.getOrDefault(op, 0);
  }

  /** Steps taken so far (every kind). */
  public long steps() {
    return steps;
  }

  /** After {@code n} more steps, the power goes (see the class comment). */
  public void cutPowerAfter(long n) {
    cutAfter = n;
  }

  /** The machine crashed: what was not synced is gone (see the class comment). */
  public void crash() {
    crash(null);
  }

  /** The machine crashed: a seeded random part of what was not synced survives, the last write perhaps torn. */
  public void crash(Random seeded) {
    Random random = seeded == null ? null : mixed(seeded);
    TreeMap<String, Inode> after = new TreeMap<>(durableNames);
    for (List<List<Link>> ops : pendingNames.values()) {
      applyNames(after, ops.subList(0, keep(random, ops.size())));
    }
    IdentityHashMap<Inode, Boolean> settled = new IdentityHashMap<>();
    for (Inode f : after.values()) {
      if (settled.put(f, true) == null) {
        settle(f, random);
      }
    }
    names = after;
    durableNames = new TreeMap<>(after);
    pendingNames.clear();
    locks.clear();
    cutAfter = -1;
    powerOff = false;
    epoch++;
  }

  /** An independent copy of this disk: its files, what is pending, its faults (no lock may be held). */
  public SimDisk copy() {
    if (locks.values().stream().anyMatch(h -> h.exclusive || h.shared > 0)) {
      throw new IllegalStateException("a SimDisk is copied while a lock on it is held");
    }
    SimDisk c = new SimDisk();
    IdentityHashMap<Inode, Inode> copies = new IdentityHashMap<>();
    java.util.function.Function<Inode, Inode> copyOf = f -> f == null ? null : copies.computeIfAbsent(f, x -> {
      Inode y = new Inode(x.id, x.data.clone(), x.durable.clone());
      y.pending.addAll(x.pending); // their bytes are never changed
      return y;
    });
    c.dirs.addAll(dirs);
    names.forEach((k, v) -> c.names.put(k, copyOf.apply(v)));
    durableNames.forEach((k, v) -> c.durableNames.put(k, copyOf.apply(v)));
    pendingNames.forEach((d, ops) -> {
      List<List<Link>> l = new ArrayList<>();
      for (List<Link> op : ops) {
        l.add(op.stream().map(x -> new Link(x.name(), copyOf.apply(x.file()))).toList());
      }
      c.pendingNames.put(d, l);
    });
    c.faults.putAll(faults);
    c.calls.putAll(calls);
    c.nextInode = nextInode;
    c.steps = steps;
    c.cutAfter = cutAfter;
    c.failStep = failStep;
    c.powerOff = powerOff;
    return c;
  }

  // ---- Disk

  @Override
  public void createPrivateDirectories(Path dir) throws IOException {
    alive();
    for (Path p = abs(dir); p != null; p = p.getParent()) {
      if (names.containsKey(p.toString())) {
        throw new FileAlreadyExistsException(p.toString());
      }
      dirs.add(p.toString());
    }
  }

  @Override
  public boolean isDirectory(Path dir) {
    alive();
    return dirs.contains(key(dir));
  }

  @Override
  public boolean exists(Path path) {
    alive();
    String k = key(path);
    return names.containsKey(k) || dirs.contains(k);
  }

  @Override
  public byte[] readAll(Path file) throws IOException {
    return existing(file).data.clone();
  }

  @Override
  public FileId id(Path file) throws IOException {
    Inode f = existing(file);
    return new FileId(f.id, f.data.length);
  }

  @Override
  public OpenFile open(Path file) throws IOException {
    return new SimFile(existing(file), key(file), epoch);
  }

  @Override
  public void replace(Path target, byte[] content) throws IOException {
    Path t = abs(target);
    String dir = parentOf(t);
    String tmp = t.getParent().resolve("." + t.getFileName() + ".tmp-sim").toString();
    Inode f = create(tmp);
    write(f, tmp, 0, content.clone());
    sync(f, tmp);
    rename(tmp, t.toString());
    syncDir(dir);
  }

  @Override
  public void move(Path from, Path to) throws IOException {
    existing(from);
    parentOf(abs(to));
    rename(key(from), key(to));
  }

  @Override
  public void copy(Path from, Path to) throws IOException {
    byte[] content = existing(from).data.clone();
    String k = key(to);
    if (names.containsKey(k) || dirs.contains(k)) {
      throw new FileAlreadyExistsException(k);
    }
    Inode f = create(k);
    write(f, k, 0, content);
    sync(f, k);
    syncDir(parentOf(abs(to)));
  }

  @Override
  public Lock lock(Path file, boolean shared, Duration timeout, String what) {
    alive();
    String k = key(file);
    Holders h = locks.computeIfAbsent(k, x -> new Holders());
    if (h.exclusive || (!shared && h.shared > 0)) {
      throw FileLocks.heldByAnotherProcess(file, what, timeout);
    }
    if (shared) {
      h.shared++;
    } else {
      h.exclusive = true;
    }
    long taken = epoch;
    boolean[] released = {false};
    return () -> {
      if (released[0] || taken != epoch) {
        return; // released already, or every lock went with the crash
      }
      released[0] = true;
      if (shared) {
        h.shared--;
      } else {
        h.exclusive = false;
      }
    };
  }

  // ---- the steps

  private final class SimFile implements OpenFile {
    private final Inode file;
    private final String path;
    private final long opened;
    private boolean closed;

    SimFile(Inode file, String path, long opened) {
      this.file = file;
      this.path = path;
      this.opened = opened;
    }

    private void usable() throws IOException {
      if (opened != epoch) {
        throw new PowerCut(); // a process from before the crash
      }
      if (closed) {
        throw new IOException(path + ": closed");
      }
    }

    @Override
    public void write(long position, ByteBuffer bytes) throws IOException {
      usable();
      byte[] b = new byte[bytes.remaining()];
      bytes.get(b);
      SimDisk.this.write(file, path, position, b);
    }

    @Override
    public void sync() throws IOException {
      usable();
      SimDisk.this.sync(file, path);
    }

    @Override
    public void truncate(long size) throws IOException {
      usable();
      if (step(Op.TRUNCATE)) {
        throw injected(Op.TRUNCATE, path);
      }
      change(file, new Truncate(size));
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  /**
   * Takes a step: throws {@link PowerCut} when the power is (or now goes) off; returns whether
   * this step is to fail.
   */
  private boolean step(Op op) {
    alive();
    if (cutAfter == 0) {
      powerOff = true;
      throw new PowerCut();
    }
    if (cutAfter > 0) {
      cutAfter--;
    }
    long index = steps++;
    calls.merge(op, 1, Integer::sum);
    if (index == failStep) {
      return true;
    }
    Integer f = faults.get(op);
    if (f != null && f > 0) {
      faults.put(op, f - 1);
      return true;
    }
    return false;
  }

  private void alive() {
    if (powerOff) {
      throw new PowerCut();
    }
  }

  private static IOException injected(Op op, String path) {
    return new IOException(path + ": Input/output error (injected " + op.word + " failure)");
  }

  private Inode create(String path) throws IOException {
    parentOf(Path.of(path));
    if (step(Op.CREATE)) {
      throw injected(Op.CREATE, path);
    }
    Inode f = new Inode(nextInode++, new byte[0], new byte[0]);
    link(parentOf(Path.of(path)), List.of(new Link(path, f)));
    return f;
  }

  private void write(Inode f, String path, long position, byte[] bytes) throws IOException {
    if (step(Op.WRITE)) {
      change(f, new Write(position, Arrays.copyOf(bytes, bytes.length / 2)));
      throw injected(Op.WRITE, path);
    }
    change(f, new Write(position, bytes));
  }

  private void sync(Inode f, String path) throws IOException {
    if (step(Op.SYNC)) {
      throw injected(Op.SYNC, path);
    }
    f.durable = f.data.clone();
    f.pending.clear();
  }

  private void rename(String from, String to) throws IOException {
    if (step(Op.RENAME)) {
      throw injected(Op.RENAME, from);
    }
    String dir = parentOf(Path.of(to));
    if (!dir.equals(parentOf(Path.of(from)))) {
      throw new UnsupportedOperationException("SimDisk renames within one directory only: " + from + " -> " + to);
    }
    link(dir, List.of(new Link(from, null), new Link(to, names.get(from))));
  }

  private void syncDir(String dir) throws IOException {
    if (step(Op.SYNC_DIR)) {
      throw injected(Op.SYNC_DIR, dir);
    }
    List<List<Link>> ops = pendingNames.remove(dir);
    if (ops != null) {
      applyNames(durableNames, ops);
    }
  }

  private void change(Inode f, Change c) {
    f.data = apply(f.data, c);
    f.pending.add(c);
  }

  private void link(String dir, List<Link> op) {
    applyNames(names, List.of(op));
    pendingNames.computeIfAbsent(dir, d -> new ArrayList<>()).add(op);
  }

  private static void applyNames(Map<String, Inode> into, List<List<Link>> ops) {
    for (List<Link> op : ops) {
      for (Link l : op) {
        if (l.file() == null) {
          into.remove(l.name());
        } else {
          into.put(l.name(), l.file());
        }
      }
    }
  }

  /** A file after a crash: its durable bytes, plus a random prefix of what was pending, the next write perhaps torn. */
  private static void settle(Inode f, Random random) {
    byte[] c = f.durable;
    int kept = keep(random, f.pending.size());
    for (Change ch : f.pending.subList(0, kept)) {
      c = apply(c, ch);
    }
    if (random != null && kept < f.pending.size() && f.pending.get(kept) instanceof Write w && w.bytes().length > 1
        && random.nextBoolean()) {
      c = apply(c, new Write(w.offset(), Arrays.copyOf(w.bytes(), 1 + random.nextInt(w.bytes().length - 1))));
    }
    f.data = c;
    f.durable = c.clone();
    f.pending.clear();
  }

  /**
   * A generator drawn from {@code r} through SplitMix64's finaliser: the first draws of
   * {@code new Random(seed)} for neighbouring seeds are nearly alike, and tests count seeds up.
   */
  private static Random mixed(Random r) {
    long z = r.nextLong() + 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return new Random(z ^ (z >>> 31));
  }

  private static int keep(Random random, int pending) {
    return random == null ? 0 : random.nextInt(pending + 1);
  }

  private static byte[] apply(byte[] content, Change c) {
    if (c instanceof Write w) {
      int end = Math.toIntExact(w.offset() + w.bytes().length);
      byte[] out = Arrays.copyOf(content, Math.max(content.length, end));
      System.arraycopy(w.bytes(), 0, out, (int) w.offset(), w.bytes().length);
      return out;
    }
    long size = ((Truncate) c).size();
    return size >= content.length ? content : Arrays.copyOf(content, (int) size);
  }

  private Inode existing(Path file) throws IOException {
    alive();
    String k = key(file);
    Inode f = names.get(k);
    if (f == null) {
      if (dirs.contains(k)) {
        throw new IOException(k + ": Is a directory");
      }
      throw new NoSuchFileException(k);
    }
    return f;
  }

  /** The directory {@code p} is in, which must exist. */
  private String parentOf(Path p) throws NoSuchFileException {
    String parent = p.getParent() == null ? "/" : p.getParent().toString();
    if (!dirs.contains(parent)) {
      throw new NoSuchFileException(parent);
    }
    return parent;
  }

  private static Path abs(Path p) {
    return p.toAbsolutePath().normalize();
  }

  private static String key(Path p) {
    return abs(p).toString();
  }
}
