package org.dvdi.core.state;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import org.dvdi.core.seams.Disk;
import org.dvdi.core.state.proto.Change;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.JournalRecord;
import org.dvdi.core.state.proto.Snapshot;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.host.HostInfo;

/**
 * dvdi's durable state: a snapshot replaced atomically plus a journal of records appended and
 * fdatasync'd, in one directory, under a lock file that the agent's module and the CLI both
 * take. Each {@link #mutate} holds the lock, first re-reads the files if another process
 * changed them, lets the caller decide on the fresh table, and writes the decision as one
 * record before returning.
 *
 * <p>A change is made when its record is written and fdatasync'd; a {@link #mutate} that
 * throws made none, and none takes effect later. When writing a record or its fdatasync fails
 * (a full disk, a write-back error), the journal is cut back to where it was and that is
 * fdatasync'd, so that the record never replays, here or after a restart. When even that
 * fails, whether the record would replay is unknown: the store then refuses every further
 * {@link #mutate} (INTERNAL, saying why, logged as severe) until the process restarts and
 * reads the state as it would after a crash at that moment; {@link #view} still shows what was
 * acknowledged.
 *
 * <p>All its I/O goes through a {@link Disk}: this machine's, or in a simulation one that loses
 * unsynced bytes at a crash and fails on cue.
 */
public final class StateStore implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(StateStore.class.getName());

  /** Compact (new snapshot, empty journal) after this many records or bytes. */
  static final int COMPACT_RECORDS = 512;
  static final long COMPACT_BYTES = 8L << 20;

  private final Path dir;
  private final String writer;
  private final Duration lockTimeout;
  private final Disk disk;
  private final StateView table = StateView.mutableEmpty();
  private final List<String> repairs = Collections.synchronizedList(new ArrayList<>());
  private final AtomicLong commits = new AtomicLong();
  private final AtomicLong syncNanos = new AtomicLong();

  private Disk.OpenFile journal;
  private long generation;
  private long lastSequence;
  private int recordsSinceCompaction;
  private Object knownSnapshotKey;
  private Object knownJournalKey;
  private long knownJournalSize = -1;
  private boolean dirty = true;
  private volatile boolean damaged;
  /** Why this store refuses every change (a journal it could not cut back), or null. */
  private volatile String refusal;

  private StateStore(Path dir, String writer, Duration lockTimeout, Disk disk) {
    this.dir = dir;
    this.writer = writer;
    this.lockTimeout = lockTimeout;
    this.disk = disk;
  }

  /**
   * Opens the state directory for writing (creating it), reads it, and repairs what a crash
   * left: a torn journal tail is dropped; a damaged file is kept aside for forensics (a damaged
   * snapshot or journal header moved, a journal damaged in the middle copied) before the files
   * are rewritten from what still reads, and reported in {@link #repairs()} and
   * {@link #damaged()}. State written by a newer dvdi is refused (thrown), untouched.
   */
  public static StateStore open(Path dir, String writer, Duration lockTimeout) {
    return open(dir, writer, lockTimeout, Disk.REAL);
  }

  /** {@link #open(Path, String, Duration)} on {@code disk}. */
  public static StateStore open(Path dir, String writer, Duration lockTimeout, Disk disk) {
    StateStore s = new StateStore(dir, writer, lockTimeout, disk);
    try {
      disk.createPrivateDirectories(dir);
    } catch (IOException e) {
      throw DvdiException.config("cannot create state directory " + dir + ": " + e.getMessage());
    }
    s.mutate((view, changes) -> null);
    return s;
  }

  /**
   * A consistent read of a state directory without writing (the CLI's view while the agent
   * runs). Never throws for what is in the files: damage is described in the problems, and
   * state written by a newer dvdi gives an empty view with {@link ReadResult#refused()}.
   */
  public static ReadResult read(Path dir, Duration lockTimeout) {
    return read(dir, lockTimeout, Disk.REAL);
  }

  /** {@link #read(Path, Duration)} on {@code disk}. */
  public static ReadResult read(Path dir, Duration lockTimeout, Disk disk) {
    if (!disk.isDirectory(dir)) {
      return new ReadResult(StateView.mutableEmpty().copy(), List.of(), false, false, 0);
    }
    StateFiles.Loaded l;
    try (Disk.Lock h = lock(disk, dir, true, lockTimeout)) {
      l = StateFiles.read(dir, disk);
    }
    if (l.newerFormat != null) {
      return new ReadResult(StateView.mutableEmpty().copy(), List.of(l.newerFormat), true, false, l.newerFormatVersion);
    }
    StateView v = StateView.mutableEmpty();
    List<String> problems = new ArrayList<>();
    Path j = dir.resolve(StateFiles.JOURNAL);
    build(l, v, problems, "the file is left as it is at " + j + " (the next dvdi that writes state keeps a copy as "
        + j + StateFiles.DAMAGED_INFIX + "<time>)");
    return new ReadResult(v.copy(), problems, true, l.damaged(), 0);
  }

  /**
   * What {@link #read} found.
   *
   * @param view the table (empty when refused)
   * @param problems what is wrong with the files, each a sentence for an operator
   * @param exists the state directory exists
   * @param damaged something acknowledged may be missing from the view (a damaged file or
   *     journal record): the kernel's mount table is the truth for what is mounted
   * @param newerFormat the format of state written by a newer dvdi, which this one does not
   *     read (the view is empty), or 0
   */
  public record ReadResult(StateView view, List<String> problems, boolean exists, boolean damaged, long newerFormat) {
    /** The state was written by a newer dvdi: nothing was read, and nothing may be changed. */
    public boolean refused() {
      return newerFormat != 0;
    }
  }

  public Path dir() {
    return dir;
  }

  /** What opening or re-reading had to repair (empty when all was well). */
  public List<String> repairs() {
    synchronized (repairs) {
      return List.copyOf(repairs);
    }
  }

  /**
   * Whether opening or a re-read found damage (a damaged snapshot, journal header or journal
   * record, not a torn tail): acknowledged changes may be missing from the table, so what is
   * mounted must be taken from the kernel's mount table. Stays true for this store's life;
   * {@link #repairs()} says what happened.
   */
  public boolean damaged() {
    return damaged;
  }

  /** A consistent, unmodifiable copy of the table as this process last knew it. */
  public StateView view() {
    synchronized (table) {
      return table.copy();
    }
  }

  /** The container as this process last knew it (no copy of the table, no lock), or null. */
  public Container container(String id) {
    synchronized (table) {
      return table.containers().get(id);
    }
  }

  /** A fresh, consistent copy of the table, re-read under the lock if another process changed it. */
  public StateView freshView() {
    return mutate((v, c) -> v.copy());
  }

  /** Records written, and the total time spent making them durable. */
  public long commits() {
    return commits.get();
  }

  public long syncNanos() {
    return syncNanos.get();
  }

  /**
   * Decides on the current table and writes the decision durably; see {@link Mutation}. When
   * it throws, the decision was not made (see the class comment for the one exception: a
   * store that refuses every change after a journal it could not repair).
   */
  public <T> T mutate(Mutation<T> m) {
    String why = refusal;
    if (why != null) {
      throw DvdiException.internal(why, null);
    }
    try (Disk.Lock h = lock(disk, dir, false, lockTimeout)) {
      refreshIfChanged();
      Changes changes = new Changes();
      T result;
      synchronized (table) {
        result = m.apply(table.readOnly(), changes);
      }
      if (!changes.isEmpty()) {
        append(changes.list());
      }
      return result;
    }
  }

  private void refreshIfChanged() {
    if (!dirty) {
      try {
        Object snapKey = fileKey(dir.resolve(StateFiles.SNAPSHOT));
        Disk.FileId j = disk.id(dir.resolve(StateFiles.JOURNAL));
        if (Objects.equals(snapKey, knownSnapshotKey) && Objects.equals(j.key(), knownJournalKey)
            && j.size() == knownJournalSize) {
          return;
        }
      } catch (IOException e) {
        // fall through to a full reload, which reports what is wrong
      }
    }
    reload();
  }

  private void reload() {
    StateFiles.Loaded l = StateFiles.read(dir, disk);
    if (l.newerFormat != null) {
      throw DvdiException.internal(l.newerFormat, null);
    }
    if (l.snapshotProblem != null) {
      moveAside(StateFiles.SNAPSHOT, l.snapshotProblem);
    }
    String journalEvidence = null;
    if (l.journalProblem != null) {
      journalEvidence = moveAside(StateFiles.JOURNAL, l.journalProblem);
    } else if (!l.journalDamage.isEmpty()) {
      journalEvidence = copyAside(StateFiles.JOURNAL); // before compaction rewrites it
    }
    List<String> problems = new ArrayList<>();
    synchronized (table) {
      table.clear();
      build(l, table, problems, journalEvidence);
    }
    if (l.damaged()) {
      damaged = true;
    }
    lastSequence = Math.max(l.snapshot.getLastSequence(), l.records.isEmpty() ? 0 : l.records.get(l.records.size() - 1).getSequence());
    generation = l.snapshot.getGeneration();
    recordsSinceCompaction = l.records.size();
    for (String p : problems) {
      note(p);
    }
    boolean journalOk = l.journalProblem == null && l.journalGeneration >= 0
        && l.journalTail == null && l.journalDamage.isEmpty();
    if (!journalOk || l.snapshotProblem != null) {
      compact(); // rewrites both files from the table: no append ever follows garbage
    } else {
      openJournal();
      remember();
    }
    dirty = false;
  }

  /** Fills {@code into} from what was read; {@code journalEvidence} says where a damaged journal is kept. */
  private static void build(StateFiles.Loaded l, StateView into, List<String> problems, String journalEvidence) {
    if (l.snapshotProblem != null) {
      problems.add("state snapshot damaged: " + l.snapshotProblem
          + "; continuing from the journal and the kernel's mount table");
    } else {
      for (Volume v : l.snapshot.getVolumesList()) {
        into.volumes().put(VolumeKey.of(v), v);
      }
      for (Container c : l.snapshot.getContainersList()) {
        into.containers().put(c.getId(), c);
      }
    }
    if (l.journalProblem != null) {
      problems.add("state journal damaged: " + l.journalProblem);
    }
    for (StateFiles.Damage d : l.journalDamage) {
      problems.add(d.describe() + "; " + journalEvidence);
    }
    if (l.journalTail != null) {
      problems.add("state journal ended in " + l.journalTail + " (a write cut short by a crash; it was never acted on)");
    }
    for (JournalRecord r : l.records) {
      if (r.getSequence() <= l.snapshot.getLastSequence()) {
        continue; // already in the snapshot (a crash between snapshot and journal replacement)
      }
      for (Change c : r.getChangesList()) {
        into.apply(c);
      }
    }
  }

  private void note(String problem) {
    LOG.severe(problem);
    repairs.add(problem);
  }

  /** Moves a damaged file aside; returns where it is now, for the report. */
  private String moveAside(String file, String why) {
    Path p = dir.resolve(file);
    Path aside = asideName(file);
    try {
      disk.move(p, aside);
      note("moved damaged " + p + " to " + aside + " (" + why + ")");
      return "the damaged file is kept at " + aside;
    } catch (NoSuchFileException e) {
      return "the damaged file is gone";
    } catch (IOException e) {
      note("could not move damaged " + p + " aside: " + e.getMessage());
      return "the damaged file could not be kept (" + e.getMessage() + ")";
    }
  }

  /** Keeps a durable copy of a damaged file that is about to be rewritten; returns where, for the report. */
  private String copyAside(String file) {
    Path p = dir.resolve(file);
    Path aside = asideName(file);
    try {
      disk.copy(p, aside);
      return "the damaged file is kept at " + aside;
    } catch (IOException e) {
      return "the damaged file could not be kept (copying " + p + " to " + aside + ": " + e.getMessage() + ")";
    }
  }

  /** {@code <file>.damaged-<time>}, with a counter when that name is taken (two in one millisecond). */
  private Path asideName(String file) {
    String base = file + StateFiles.DAMAGED_INFIX + System.currentTimeMillis();
    Path aside = dir.resolve(base);
    for (int n = 2; disk.exists(aside); n++) {
      aside = dir.resolve(base + "-" + n);
    }
    return aside;
  }

  private void append(List<Change> list) {
    JournalRecord r = JournalRecord.newBuilder().setSequence(lastSequence + 1)
        .setTimeMs(System.currentTimeMillis()).addAllChanges(list).setWriter(writer).build();
    ByteBuffer b = StateFiles.encodeRecord(r);
    long start = System.nanoTime();
    long before = knownJournalSize;
    try {
      long after = before + b.remaining();
      journal.write(before, b);
      journal.sync();
      knownJournalSize = after;
    } catch (IOException e) {
      throw undoAppend(before, e);
    }
    syncNanos.addAndGet(System.nanoTime() - start);
    commits.incrementAndGet();
    lastSequence = r.getSequence();
    synchronized (table) {
      for (Change c : list) {
        table.apply(c);
      }
    }
    if (++recordsSinceCompaction >= COMPACT_RECORDS || knownJournalSize >= COMPACT_BYTES) {
      try {
        compact();
      } catch (DvdiException e) {
        // The record is durable and applied: the change is made, and the files as they are
        // read whole (a snapshot replaced without its journal is one generation ahead of it).
        // The next change re-reads them and compacts again.
        LOG.severe(e.getMessage() + "; the change was made (its record is in the journal), compacting is tried again"
            + " at the next change");
      }
    }
  }

  /**
   * A record's write or fdatasync failed: its bytes may be in the journal, whole or in part,
   * and may still reach the disk. The caller is told the change was not made, so the journal
   * is cut back to its length before the record and that is made durable: the record never
   * replays. When that fails too, nobody can tell whether it will replay after a restart:
   * this store refuses every further change (a decision taken now, on a table without the
   * record, could be contradicted by the file), loudly.
   */
  private DvdiException undoAppend(long before, IOException e) {
    Path j = dir.resolve(StateFiles.JOURNAL);
    String what = "cannot write dvdi state to " + j + ": " + e.getMessage();
    try {
      journal.truncate(before);
      journal.sync();
    } catch (IOException t) {
      e.addSuppressed(t);
      refusal = what + "; cutting the journal back to " + before + " bytes failed too (" + t.getMessage()
          + "), so the change reported as failed may still be on disk and take effect when the state is read again: "
          + "this dvdi refuses every further change to its state; fix the disk, then restart the agent (or the dvdi "
          + "command), which reads the state as after a crash";
      LOG.severe(refusal);
      return DvdiException.internal(refusal, e);
    }
    return DvdiException.internal(what + "; the change was not made (the journal is cut back to before it)", e);
  }

  /** Writes a new snapshot of the whole table and starts an empty journal. */
  private void compact() {
    Snapshot.Builder s = Snapshot.newBuilder().setFormatVersion(StateFiles.FORMAT_VERSION)
        .setGeneration(generation + 1).setLastSequence(lastSequence)
        .setWrittenMs(System.currentTimeMillis()).setWriterBootId(HostInfo.bootId());
    synchronized (table) {
      s.addAllVolumes(table.volumes().values()).addAllContainers(table.containers().values());
    }
    try {
      disk.replace(dir.resolve(StateFiles.SNAPSHOT), StateFiles.encodeSnapshot(s.build()));
      disk.replace(dir.resolve(StateFiles.JOURNAL), StateFiles.journalHeader(generation + 1));
    } catch (IOException e) {
      dirty = true;
      throw DvdiException.internal("cannot write dvdi state snapshot in " + dir + ": " + e.getMessage(), e);
    }
    generation++;
    recordsSinceCompaction = 0;
    openJournal();
    remember();
  }

  private void openJournal() {
    closeJournal();
    try {
      journal = disk.open(dir.resolve(StateFiles.JOURNAL));
    } catch (IOException e) {
      dirty = true;
      throw DvdiException.internal("cannot open dvdi state journal in " + dir + ": " + e.getMessage(), e);
    }
  }

  private void remember() {
    try {
      knownSnapshotKey = fileKey(dir.resolve(StateFiles.SNAPSHOT));
      Disk.FileId j = disk.id(dir.resolve(StateFiles.JOURNAL));
      knownJournalKey = j.key();
      knownJournalSize = j.size();
    } catch (IOException e) {
      dirty = true;
      throw DvdiException.internal("cannot stat dvdi state files in " + dir + ": " + e.getMessage(), e);
    }
  }

  private Object fileKey(Path p) throws IOException {
    try {
      return disk.id(p).key();
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private void closeJournal() {
    if (journal != null) {
      try {
        journal.close();
      } catch (IOException ignored) {
        // nothing more to do
      }
      journal = null;
    }
  }

  @Override
  public void close() {
    try (Disk.Lock h = lock(disk, dir, false, lockTimeout)) {
      closeJournal();
    }
  }

  private static Disk.Lock lock(Disk disk, Path dir, boolean shared, Duration timeout) {
    return disk.lock(dir.resolve(StateFiles.LOCK), shared, timeout, "the dvdi state lock");
  }
}
