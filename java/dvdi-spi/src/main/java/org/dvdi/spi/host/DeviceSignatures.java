package org.dvdi.spi.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;

/**
 * Every signature on a block device: filesystems, partition tables, crypto headers, RAID
 * member superblocks and the rest (swap, ...), as {@code wipefs} lists them. {@code wipefs}
 * reports every superblock and partition table libblkid knows, also those with a bad checksum;
 * {@code blkid -p} reports only the first superblock (a LUKS header hides the filesystem
 * after it), and {@code blkid -p -u filesystem} nothing but filesystems. A device that cannot
 * be read is an error here, never "blank" (blkid and wipefs both answer "nothing found" for a
 * missing path or a loop device with nothing attached).
 */
public final class DeviceSignatures {
  /** {@code st_mode} bits: the file type, and the type of a block device. */
  private static final int S_IFMT = 0170000;
  private static final int S_IFBLK = 0060000;

  /** wipefs's USAGE values (libblkid's usage names; partition tables say "partition-table"). */
  static final String FILESYSTEM = "filesystem";
  static final String PARTITION_TABLE = "partition-table";
  static final String CRYPTO = "crypto";
  static final String RAID = "raid";

  /** One signature: its type (ext4, dos, crypto_LUKS...), its usage, its offset as wipefs prints it. */
  public record Signature(String type, String usage, String offset) {
    /** E.g. "a dos partition table (PTTYPE=dos, at offset 0x1fe)". */
    public String describe() {
      String what = switch (usage) {
        case PARTITION_TABLE -> "partition table";
        case FILESYSTEM -> "filesystem";
        case CRYPTO -> "encryption header";
        case RAID -> "RAID member superblock";
        default -> "signature";
      };
      String key = usage.equals(PARTITION_TABLE) ? "PTTYPE=" + type : "TYPE=" + type + ", USAGE=" + usage;
      return article(type) + " " + type + " " + what + " (" + key + ", at offset " + offset + ")";
    }
  }

  /** What a device carries. */
  public record Probe(String device, List<Signature> signatures) {
    public Probe {
      signatures = List.copyOf(signatures);
    }

    /** No signature at all: the only kind of device dvdi formats without overwritefs. */
    public boolean blank() {
      return signatures.isEmpty();
    }

    /**
     * The filesystem to mount: present when every signature is a filesystem of one type. A
     * filesystem beside a partition table, a crypto header or another filesystem is not
     * mounted: which of them holds the data is not dvdi's guess to make.
     */
    public Optional<String> filesystem() {
      if (signatures.isEmpty() || !signatures.stream().allMatch(s -> s.usage().equals(FILESYSTEM))) {
        return Optional.empty();
      }
      String type = signatures.get(0).type();
      return signatures.stream().allMatch(s -> s.type().equals(type)) ? Optional.of(type) : Optional.empty();
    }

    /** Whether a filesystem is among the signatures. */
    public boolean hasFilesystem() {
      return signatures.stream().anyMatch(s -> s.usage().equals(FILESYSTEM));
    }

    /** Every signature, e.g. "a dos partition table (PTTYPE=dos, at offset 0x1fe)"; "no signature" when blank. */
    public String describe() {
      return blank() ? "no signature" : signatures.stream().map(Signature::describe).collect(Collectors.joining(" and "));
    }
  }

  private final Commands commands;

  public DeviceSignatures(Commands commands) {
    this.commands = commands;
  }

  /**
   * Lists every signature on block device {@code device}. Fails with PROVIDER_FAILURE when
   * the path is not a readable block device with data or wipefs fails, and with TIMEOUT
   * when wipefs does not finish within the call's deadline.
   */
  public Probe probe(String device, CallContext ctx) {
    checkReadable(device);
    Commands.Result r = commands.run(List.of("wipefs", "--no-act", "--parsable", "--noheadings",
        "--output", "TYPE,USAGE,OFFSET", device), ctx);
    if (!r.ok()) {
      throw cannotProbe(device, "wipefs exited " + r.exitCode() + ": " + r.diagnostics());
    }
    return new Probe(device, parse(device, r.stdout()));
  }

  /** Parses {@code wipefs --parsable --noheadings --output TYPE,USAGE,OFFSET} output. */
  static List<Signature> parse(String device, String text) {
    List<Signature> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.strip().split(",", -1);
      if (f.length != 3 || f[0].isEmpty()) {
        throw cannotProbe(device, "wipefs printed a line that is not TYPE,USAGE,OFFSET: '" + line.strip() + "'");
      }
      out.add(new Signature(f[0], f[1].isEmpty() ? "unknown" : f[1], f[2]));
    }
    return out;
  }

  /** Fails unless {@code device} is a block device whose first block reads. */
  private static void checkReadable(String device) {
    Path p = Path.of(device);
    int mode;
    try {
      mode = (Integer) Files.getAttribute(p, "unix:mode");
    } catch (NoSuchFileException e) {
      throw cannotProbe(device, "it does not exist");
    } catch (IOException | UnsupportedOperationException e) {
      throw cannotProbe(device, "cannot stat it: " + e.getMessage());
    }
    if ((mode & S_IFMT) != S_IFBLK) {
      throw cannotProbe(device, "it is not a block device");
    }
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      if (ch.read(ByteBuffer.allocate(4096), 0) <= 0) {
        throw cannotProbe(device, "it reads as empty (0 bytes): is anything attached to it?");
      }
    } catch (IOException e) {
      throw cannotProbe(device, "reading its first block failed: " + e.getMessage());
    }
  }

  private static DvdiException cannotProbe(String device, String why) {
    return DvdiException.provider("cannot probe " + device + " for signatures: " + why
        + "; dvdi makes a filesystem only on a device it has read and found blank");
  }

  private static String article(String word) {
    return !word.isEmpty() && "aeiouAEIOU".indexOf(word.charAt(0)) >= 0 ? "an" : "a";
  }
}
