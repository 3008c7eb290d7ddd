package org.dvdi.core.state;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.dvdi.core.seams.Disk;
import org.dvdi.core.state.proto.JournalRecord;
import org.dvdi.core.state.proto.Snapshot;

/**
 * The byte layout of the state files (all integers big-endian).
 *
 * <pre>
 * state.snapshot: "DVDISNAP" u32 format_version, u32 length, u32 crc32c(payload), payload (Snapshot)
 * state.journal:  "DVDIJRNL" u32 format_version, u64 generation,
 *                 then records: u32 length, u32 crc32c(payload), payload (JournalRecord)
 * </pre>
 *
 * Records carry consecutive sequence numbers; the first record after a compaction follows the
 * snapshot's {@code last_sequence}. A record that cannot be read (cut short, failing its
 * checksum, an impossible length, out of sequence) is one of two things:
 * <ul>
 *   <li>a <b>torn tail</b> when no readable record follows it: the writer died while writing
 *       it, the record was never acknowledged (nothing was acted on before it was durable), and
 *       it is dropped;
 *   <li><b>damage</b> when a readable record follows it: the records in between were each
 *       acknowledged, and are lost. Reading resynchronises at the next position where a
 *       complete record with a valid checksum and a later sequence number starts, keeps every
 *       record from there on, and reports which sequence numbers were lost ({@link Damage}).
 *       A gap in the sequence numbers between two readable records (whole records cut out) is
 *       damage too.
 * </ul>
 */
public final class StateFiles {
  /** The state format this dvdi writes and reads. */
  public static final int FORMAT_VERSION = 1;

  public static final String SNAPSHOT = "state.snapshot";
  public static final String JOURNAL = "state.journal";
  public static final String LOCK = "state.lock";
  /** A damaged state file kept for inspection is named {@code <file>.damaged-<time in ms>}. */
  public static final String DAMAGED_INFIX = ".damaged-";

  static final byte[] SNAP_MAGIC = "DVDISNAP".getBytes(StandardCharsets.US_ASCII);
  static final byte[] JOURNAL_MAGIC = "DVDIJRNL".getBytes(StandardCharsets.US_ASCII);
  static final int SNAP_HEADER = 8 + 4 + 4 + 4;
  static final int JOURNAL_HEADER = 8 + 4 + 8;
  static final int RECORD_HEADER = 4 + 4;
  static final int MAX_RECORD = 64 << 20;

  private StateFiles() {}

  /** What was read from a state directory. */
  public static final class Loaded {
    public Snapshot snapshot = Snapshot.getDefaultInstance();
    public final List<JournalRecord> records = new ArrayList<>();
    /** Generation in the journal header, or -1 when there is no journal (or its header is damaged). */
    public long journalGeneration = -1;
    /** Byte offset just after the last good journal record. */
    public long journalGoodBytes;
    public long journalBytes;
    /** Why the journal's end was dropped (a torn write), or null. */
    public String journalTail;
    /** Where the journal is damaged with readable records after the damage (records lost), in file order. */
    public final List<Damage> journalDamage = new ArrayList<>();
    /** Why the snapshot could not be used (damaged), or null. */
    public String snapshotProblem;
    /** Why the journal file as a whole is suspect (damaged header), or null. */
    public String journalProblem;
    /**
     * Why nothing was read: a file has a format newer than {@link #FORMAT_VERSION} (this dvdi
     * must not touch it), or null.
     */
    public String newerFormat;
    /** That newer format (an unsigned u32), or 0. */
    public long newerFormatVersion;

    /** Something acknowledged may be missing: a damaged snapshot, journal header or journal record. */
    public boolean damaged() {
      return snapshotProblem != null || journalProblem != null || !journalDamage.isEmpty();
    }

    public boolean clean() {
      return !damaged() && journalTail == null && newerFormat == null;
    }
  }

  /**
   * Damage in the middle of the journal: at byte {@code offset}, {@code unreadableBytes} bytes
   * could not be read as records (0 when whole records are missing), the records with sequence
   * {@code firstLost..lastLost} are lost ({@code firstLost} 0 when not known; none when
   * {@code lastLost < firstLost}), and {@code keptAfter} readable records follow.
   */
  public record Damage(long offset, long unreadableBytes, long firstLost, long lastLost, int keptAfter, Kind kind) {
    /** What the damage looks like. */
    public enum Kind {
      /** One record's bytes were changed where they stand: it fails its checksum. */
      CHANGED_IN_PLACE,
      /** Bytes are missing (the file was cut) or a record's length is damaged. */
      BYTES_MISSING,
      /** Every byte reads, but whole records are missing between two that read. */
      RECORDS_MISSING
    }

    /** "state journal damaged at byte N: record(s) with sequence X..Y lost (why); M later records kept". */
    public String describe() {
      String lost;
      if (firstLost > 0 && lastLost < firstLost) {
        lost = "no record lost";
      } else if (firstLost > 0) {
        lost = "record(s) with sequence " + firstLost + ".." + lastLost + " lost";
      } else {
        lost = "the record(s) before sequence " + (lastLost + 1) + " lost";
      }
      String why = switch (kind) {
        case CHANGED_IN_PLACE -> "a record changed where it stands fails its checksum; what it said cannot be trusted";
        case BYTES_MISSING -> unreadableBytes + " bytes do not read as records: bytes are missing, cut out of the file, "
            + "or a record's length is damaged; what the lost records said is gone for good";
        case RECORDS_MISSING -> "whole records are missing, cut out of the file; what they said is gone for good";
      };
      return "state journal damaged at byte " + offset + ": " + lost + " (" + why + "); " + keptAfter
          + " later records kept";
    }
  }

  static byte[] encodeSnapshot(Snapshot s) {
    byte[] payload = s.toByteArray();
    ByteBuffer b = ByteBuffer.allocate(SNAP_HEADER + payload.length).order(ByteOrder.BIG_ENDIAN);
    b.put(SNAP_MAGIC).putInt(FORMAT_VERSION).putInt(payload.length).putInt(crc(payload, 0, payload.length)).put(payload);
    return b.array();
  }

  static byte[] journalHeader(long generation) {
    ByteBuffer b = ByteBuffer.allocate(JOURNAL_HEADER).order(ByteOrder.BIG_ENDIAN);
    b.put(JOURNAL_MAGIC).putInt(FORMAT_VERSION).putLong(generation);
    return b.array();
  }

  static ByteBuffer encodeRecord(JournalRecord r) {
    byte[] payload = r.toByteArray();
    ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER + payload.length).order(ByteOrder.BIG_ENDIAN);
    b.putInt(payload.length).putInt(crc(payload, 0, payload.length)).put(payload);
    b.flip();
    return b;
  }

  static int crc(byte[] b, int off, int len) {
    CRC32C c = new CRC32C();
    c.update(b, off, len);
    return (int) c.getValue();
  }

  /**
   * Reads the state directory. Damage is reported in the result, never thrown. A format newer
   * than {@link #FORMAT_VERSION} is reported in {@link Loaded#newerFormat}, with nothing else
   * read (this dvdi must not act on it, nor change it).
   */
  public static Loaded read(Path dir) {
    return read(dir, Disk.REAL);
  }

  /** {@link #read(Path)} from {@code disk}. */
  public static Loaded read(Path dir, Disk disk) {
    Loaded l = new Loaded();
    readSnapshot(disk, dir.resolve(SNAPSHOT), l);
    if (l.newerFormat == null) {
      readJournal(disk, dir.resolve(JOURNAL), l);
    }
    if (l.newerFormat != null) {
      Loaded refused = new Loaded();
      refused.newerFormat = l.newerFormat;
      refused.newerFormatVersion = l.newerFormatVersion;
      return refused;
    }
    return l;
  }

  private static void readSnapshot(Disk disk, Path p, Loaded l) {
    byte[] all;
    try {
      all = disk.readAll(p);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException e) {
      l.snapshotProblem = "cannot read " + p + ": " + e.getMessage();
      return;
    }
    ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.BIG_ENDIAN);
    if (all.length < SNAP_HEADER || !startsWith(all, SNAP_MAGIC)) {
      l.snapshotProblem = p + " is not a dvdi state snapshot (bad header, " + all.length + " bytes)";
      return;
    }
    b.position(SNAP_MAGIC.length);
    String version = checkVersion(b.getInt(), p, l);
    if (l.newerFormat != null) {
      return;
    }
    if (version != null) {
      l.snapshotProblem = p + " has a damaged header (" + version + ")";
      return;
    }
    int len = b.getInt();
    int crc = b.getInt();
    if (len < 0 || len != all.length - SNAP_HEADER) {
      l.snapshotProblem = p + " is truncated or padded: header says " + len + " payload bytes, file has "
          + (all.length - SNAP_HEADER);
      return;
    }
    if (crc(all, SNAP_HEADER, len) != crc) {
      l.snapshotProblem = p + " fails its checksum";
      return;
    }
    try {
      l.snapshot = Snapshot.parseFrom(ByteBuffer.wrap(all, SNAP_HEADER, len));
    } catch (InvalidProtocolBufferException e) {
      l.snapshotProblem = p + " does not parse: " + e.getMessage();
    }
  }

  private static void readJournal(Disk disk, Path p, Loaded l) {
    byte[] all;
    try {
      all = disk.readAll(p);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException e) {
      l.journalProblem = "cannot read " + p + ": " + e.getMessage();
      return;
    }
    l.journalBytes = all.length;
    String header = null;
    boolean magic = all.length >= JOURNAL_HEADER && startsWith(all, JOURNAL_MAGIC);
    if (!magic) {
      header = "bad magic";
    } else {
      ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.BIG_ENDIAN);
      b.position(JOURNAL_MAGIC.length);
      header = checkVersion(b.getInt(), p, l);
      if (l.newerFormat != null) {
        return;
      }
      long generation = b.getLong();
      long snapshotGeneration = l.snapshot.getGeneration();
      if (header == null && l.snapshotProblem == null && generation != snapshotGeneration
          && generation != snapshotGeneration - 1) { // the one before: a crash between the two rewrites
        header = "generation " + generation + ", the snapshot's is " + snapshotGeneration
            + ": damage, or a snapshot that is missing or from elsewhere";
      }
      if (header == null) {
        l.journalGeneration = generation;
      }
    }
    // The records follow the snapshot's last sequence when both are of one generation.
    long first = l.snapshotProblem == null && header == null && l.journalGeneration == l.snapshot.getGeneration()
        ? l.snapshot.getLastSequence() + 1 : 0;
    readRecords(all, first, l);
    if (header != null) {
      if (l.records.isEmpty() && !magic) {
        l.journalProblem = p + " is not a dvdi state journal (bad header, " + all.length + " bytes)";
        l.journalTail = null;
        l.journalDamage.clear();
      } else {
        l.journalProblem = p + " has a damaged header (" + header + "); the " + l.records.size()
            + " record(s) that read after it are kept";
      }
    }
  }

  /** One attempt to read a record at a position: the record, or why not. */
  private record Attempt(JournalRecord record, int end, String problem, long announcedEnd) {
    static Attempt failed(String problem, long announcedEnd) {
      return new Attempt(null, -1, problem, announcedEnd);
    }

    boolean ok() {
      return record != null;
    }
  }

  /** Reads the records after the header, resynchronising after damage; {@code first} 0 = not known. */
  private static void readRecords(byte[] all, long first, Loaded l) {
    int pos = JOURNAL_HEADER;
    long next = first > 0 ? first : 1; // the lowest sequence the next record may have
    boolean known = first > 0;         // ...and whether it is exactly the one expected
    List<Damage> found = new ArrayList<>();
    List<Integer> recordsBefore = new ArrayList<>();
    while (pos < all.length) {
      Attempt a = attempt(all, pos, next);
      long lostFrom = known ? next : 0;
      Damage.Kind kind = Damage.Kind.RECORDS_MISSING;
      int at = pos;
      if (!a.ok()) {
        int q = pos + 1;
        Attempt resync = null;
        for (; q + RECORD_HEADER < all.length; q++) {
          resync = attempt(all, q, next);
          if (resync.ok()) {
            break;
          }
        }
        if (resync == null || !resync.ok()) {
          l.journalTail = a.problem();
          break;
        }
        kind = a.announcedEnd() == q ? Damage.Kind.CHANGED_IN_PLACE : Damage.Kind.BYTES_MISSING;
        pos = q;
        a = resync;
      }
      long seq = a.record().getSequence();
      if (at != pos || (known && seq > next)) {
        found.add(new Damage(at, pos - at, lostFrom, seq - 1, 0, kind));
        recordsBefore.add(l.records.size());
      }
      l.records.add(a.record());
      next = seq + 1;
      known = true;
      pos = a.end();
    }
    l.journalGoodBytes = pos;
    if (l.journalTail != null && pos < all.length) {
      l.journalTail += "; " + (all.length - pos) + " bytes dropped";
    }
    for (int i = 0; i < found.size(); i++) {
      Damage d = found.get(i);
      l.journalDamage.add(new Damage(d.offset(), d.unreadableBytes(), d.firstLost(), d.lastLost(),
          l.records.size() - recordsBefore.get(i), d.kind()));
    }
  }

  /** A complete record at {@code pos} with a valid checksum and a sequence of at least {@code next}. */
  private static Attempt attempt(byte[] all, int pos, long next) {
    int left = all.length - pos - RECORD_HEADER;
    if (left < 0) {
      return Attempt.failed("a record header cut short at byte " + pos, -1);
    }
    ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.BIG_ENDIAN);
    int len = b.getInt(pos);
    int crc = b.getInt(pos + 4);
    if (len < 1 || len > MAX_RECORD) {
      return Attempt.failed("a record of impossible length " + len + " at byte " + pos, -1);
    }
    if (len > left) {
      return Attempt.failed("a record cut short at byte " + pos + " (" + len + " bytes announced, " + left + " left)", -1);
    }
    int off = pos + RECORD_HEADER;
    long end = (long) off + len;
    if (crc(all, off, len) != crc) {
      return Attempt.failed("a record failing its checksum at byte " + pos, end);
    }
    JournalRecord r;
    try {
      r = JournalRecord.parseFrom(ByteBuffer.wrap(all, off, len));
    } catch (InvalidProtocolBufferException e) {
      return Attempt.failed("a record that does not parse at byte " + pos + ": " + e.getMessage(), end);
    }
    if (r.getSequence() < next) {
      return Attempt.failed("a record out of sequence at byte " + pos + " (sequence " + r.getSequence()
          + ", expected " + next + " or later)", end);
    }
    return new Attempt(r, (int) end, null, end);
  }

  /**
   * Checks a header's format version: a newer one is recorded in {@code l} (refused); one that
   * no dvdi wrote is damage, returned as its description; null when it is this dvdi's.
   */
  private static String checkVersion(int raw, Path p, Loaded l) {
    long version = Integer.toUnsignedLong(raw);
    if (version > FORMAT_VERSION) {
      l.newerFormat = p + " has state format " + version + ", newer than this dvdi's (" + FORMAT_VERSION
          + "); refusing to read or change it (was dvdi downgraded?)";
      l.newerFormatVersion = version;
      return null;
    }
    if (version < 1) {
      return "state format " + version + ", which no dvdi wrote";
    }
    return null;
  }

  private static boolean startsWith(byte[] all, byte[] magic) {
    for (int i = 0; i < magic.length; i++) {
      if (all[i] != magic[i]) {
        return false;
      }
    }
    return true;
  }
}
