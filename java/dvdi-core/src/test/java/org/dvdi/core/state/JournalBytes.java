package org.dvdi.core.state;

import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.dvdi.core.state.proto.JournalRecord;

/** A state journal's bytes as tests read and damage them (the layout is {@link StateFiles}'s). */
public final class JournalBytes {
  private JournalBytes() {}

  /** Where each journal record starts (its length field), plus the file's end. */
  public static List<Integer> recordStarts(byte[] journal) {
    List<Integer> starts = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(journal);
    int pos = StateFiles.JOURNAL_HEADER;
    while (pos < journal.length) {
      starts.add(pos);
      pos += StateFiles.RECORD_HEADER + b.getInt(pos);
    }
    starts.add(journal.length);
    return starts;
  }

  /** Record {@code i} of an undamaged journal. */
  public static JournalRecord record(byte[] journal, List<Integer> starts, int i) throws InvalidProtocolBufferException {
    int off = starts.get(i) + StateFiles.RECORD_HEADER;
    return JournalRecord.parseFrom(ByteBuffer.wrap(journal, off, starts.get(i + 1) - off));
  }

  /**
   * Damages the journal at {@code journal}: flips a byte in the payload of every record that
   * {@code lost} selects, so that it fails its checksum. Returns how many records it damaged.
   */
  public static int damage(Path journal, Predicate<JournalRecord> lost) throws IOException {
    byte[] b = Files.readAllBytes(journal);
    List<Integer> starts = recordStarts(b);
    int n = 0;
    for (int i = 0; i + 1 < starts.size(); i++) {
      if (lost.test(record(b, starts, i))) {
        b[starts.get(i) + StateFiles.RECORD_HEADER] ^= 0x5A;
        n++;
      }
    }
    Files.write(journal, b);
    return n;
  }
}
