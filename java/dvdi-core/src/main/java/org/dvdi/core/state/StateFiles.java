package org.dvdi.core.state;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.dvdi.core.state.proto.JournalRecord;
import org.dvdi.core.state.proto.Snapshot;
import org.dvdi.spi.DvdiException;

/**
 * The byte layout of the state files (all integers big-endian).
 *
 * <pre>
 * state.snapshot: "DVDISNAP" u32 format_version, u32 length, u32 crc32c(payload), payload (Snapshot)
 * state.journal:  "DVDIJRNL" u32 format_version, u64 generation,
 *                 then records: u32 length, u32 crc32c(payload), payload (JournalRecord)
 * </pre>
 *
 * A journal whose last record is cut short or fails its checksum was being written when the
 * writer died: that record was never acknowledged (nothing was acted on before it was
 * durable), so it is dropped.
 */
public final class StateFiles {
  /** The state format this dvdi writes and reads. */
  public static final int FORMAT_VERSION = 1;

  public static final String SNAPSHOT = "state.snapshot";
  public static final String JOURNAL = "state.journal";
  public static final String LOCK = "state.lock";

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
    /** Generation in the journal header, or -1 when there is no journal. */
    public long journalGeneration = -1;
    /** Byte offset just after the last good journal record. */
    public long journalGoodBytes;
    public long journalBytes;
    /** Why the journal's end was dropped (a torn write), or null. */
    public String journalTail;
    /** Why the snapshot could not be used (damaged), or null. */
    public String snapshotProblem;
    /** Why the journal could not be used at all (damaged header), or null. */
    public String journalProblem;

    public boolean clean() {
      return journalTail == null && snapshotProblem == null && journalProblem == null;
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
   * Reads the state directory. Damage is reported in the result, not thrown; a format newer
   * than {@link #FORMAT_VERSION} is thrown (this dvdi must not touch it).
   */
  public static Loaded read(Path dir) {
    Loaded l = new Loaded();
    readSnapshot(dir.resolve(SNAPSHOT), l);
    readJournal(dir.resolve(JOURNAL), l);
    return l;
  }

  private static void readSnapshot(Path p, Loaded l) {
    byte[] all;
    try {
      all = Files.readAllBytes(p);
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
    int version = b.getInt();
    checkVersion(version, p);
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

  private static void readJournal(Path p, Loaded l) {
    byte[] all;
    try {
      all = Files.readAllBytes(p);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException e) {
      l.journalProblem = "cannot read " + p + ": " + e.getMessage();
      return;
    }
    l.journalBytes = all.length;
    if (all.length < JOURNAL_HEADER || !startsWith(all, JOURNAL_MAGIC)) {
      l.journalProblem = p + " is not a dvdi state journal (bad header, " + all.length + " bytes)";
      return;
    }
    ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.BIG_ENDIAN);
    b.position(JOURNAL_MAGIC.length);
    checkVersion(b.getInt(), p);
    l.journalGeneration = b.getLong();
    long good = JOURNAL_HEADER;
    while (b.remaining() > 0) {
      if (b.remaining() < RECORD_HEADER) {
        l.journalTail = "a record header cut short at byte " + good;
        break;
      }
      int len = b.getInt();
      int crc = b.getInt();
      if (len < 0 || len > MAX_RECORD || len > b.remaining()) {
        l.journalTail = "a record cut short at byte " + good + " (" + len + " bytes announced, "
            + b.remaining() + " left)";
        break;
      }
      int off = b.position();
      if (crc(all, off, len) != crc) {
        l.journalTail = "a record failing its checksum at byte " + good;
        break;
      }
      try {
        l.records.add(JournalRecord.parseFrom(ByteBuffer.wrap(all, off, len)));
      } catch (InvalidProtocolBufferException e) {
        l.journalTail = "a record that does not parse at byte " + good + ": " + e.getMessage();
        break;
      }
      b.position(off + len);
      good = b.position();
    }
    l.journalGoodBytes = good;
    if (l.journalTail != null && good < all.length) {
      l.journalTail += "; " + (all.length - good) + " bytes dropped";
    }
  }

  private static void checkVersion(int version, Path p) {
    if (version > FORMAT_VERSION) {
      throw DvdiException.internal(p + " has state format " + version + ", newer than this dvdi's ("
          + FORMAT_VERSION + "); refusing to read or change it (was dvdi downgraded?)", null);
    }
    if (version < 1) {
      throw DvdiException.internal(p + " has state format " + version + ", which no dvdi wrote", null);
    }
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
