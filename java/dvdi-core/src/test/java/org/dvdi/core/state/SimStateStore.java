package org.dvdi.core.state;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.dvdi.core.state.proto.JournalRecord;
import org.dvdi.core.state.proto.Snapshot;

/**
 * A state store for simulations: {@link #mutate} applies each decision to an in-memory table
 * at once (no lock, no fsync), and also appends it, encoded as a real journal record, to an
 * in-memory journal. {@link #crash} writes that "disk" (snapshot and journal, in the real byte
 * format) to a directory and reads the table back with the real reader
 * ({@link StateStore#read}), as a restarted dvdi would; the journal is then compacted into a
 * new snapshot. Tests only: a simulated world is cheap to copy ({@link #copy}).
 */
public final class SimStateStore {
  private final StateView table;
  private byte[] snapshot;
  private ByteArrayOutputStream journal;
  private long sequence;

  public SimStateStore() {
    this(StateView.mutableEmpty(), null, 0);
  }

  private SimStateStore(StateView table, byte[] snapshot, long sequence) {
    this.table = table;
    this.sequence = sequence;
    this.snapshot = snapshot == null ? encode(table, sequence) : snapshot;
    this.journal = newJournal();
  }

  /** Decides on the current table and applies the decision, as {@link StateStore#mutate} does. */
  public <T> T mutate(Mutation<T> m) {
    Changes ch = new Changes();
    T r = m.apply(table.readOnly(), ch);
    if (!ch.isEmpty()) {
      JournalRecord rec = JournalRecord.newBuilder().setSequence(++sequence).addAllChanges(ch.list()).setWriter("sim").build();
      ByteBuffer b = StateFiles.encodeRecord(rec);
      journal.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
      ch.list().forEach(table::apply);
    }
    return r;
  }

  /** An unmodifiable copy of the table. */
  public StateView view() {
    return table.copy();
  }

  /**
   * The process died: what it had in memory is gone; the table is what the files on disk say,
   * read with the real reader from {@code dir}. Returns what reading had to repair (empty
   * when all was well: every record of this store is complete).
   */
  public java.util.List<String> crash(Path dir) {
    try {
      Files.createDirectories(dir);
      Files.write(dir.resolve(StateFiles.SNAPSHOT), snapshot);
      Files.write(dir.resolve(StateFiles.JOURNAL), journal.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    StateStore.ReadResult r = StateStore.read(dir, Duration.ofSeconds(5));
    table.clear();
    r.view().volumes().values().forEach(v -> table.volumes().put(VolumeKey.of(v), v));
    r.view().containers().values().forEach(c -> table.containers().put(c.getId(), c));
    snapshot = encode(table, sequence);
    journal = newJournal();
    return r.problems();
  }

  /** An independent copy (same table, same disk). */
  public SimStateStore copy() {
    StateView t = StateView.mutableEmpty();
    t.volumes().putAll(table.volumes());
    t.containers().putAll(table.containers());
    SimStateStore s = new SimStateStore(t, snapshot, sequence);
    byte[] j = journal.toByteArray();
    s.journal.reset();
    s.journal.write(j, 0, j.length);
    return s;
  }

  private static byte[] encode(StateView t, long lastSequence) {
    return StateFiles.encodeSnapshot(Snapshot.newBuilder().setFormatVersion(StateFiles.FORMAT_VERSION)
        .setGeneration(1).setLastSequence(lastSequence).addAllVolumes(t.volumes().values())
        .addAllContainers(t.containers().values()).build());
  }

  private static ByteArrayOutputStream newJournal() {
    ByteArrayOutputStream j = new ByteArrayOutputStream();
    byte[] h = StateFiles.journalHeader(1);
    j.write(h, 0, h.length);
    return j;
  }
}
