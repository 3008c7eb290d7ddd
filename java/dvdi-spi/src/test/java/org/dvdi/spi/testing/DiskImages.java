package org.dvdi.spi.testing;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.host.Commands;

/**
 * Writes the signatures dvdi must never format over into image files, byte by byte (this host
 * has no sfdisk, parted, cryptsetup or mdadm): an MBR partition table, a LUKS1 header, and
 * some data after them. Also a real ext4 image holding a file, and a checksum of a whole image,
 * to show that nothing was written.
 */
public final class DiskImages {
  private DiskImages() {}

  /**
   * An MBR ("dos") partition table with one Linux partition from sector 2048 to the end, as
   * fdisk writes it, and a line of text in that partition.
   */
  public static void writeMbrWithData(Path image) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      long sectors = f.length() / 512;
      byte[] entry = new byte[16];
      entry[0] = 0x00; // not bootable
      entry[1] = 0x20; // CHS of the first sector (as fdisk writes it for LBA 2048)
      entry[2] = 0x21;
      entry[3] = 0x00;
      entry[4] = (byte) 0x83; // Linux
      entry[5] = (byte) 0xfe; // CHS of the last sector: beyond CHS, LBA rules
      entry[6] = (byte) 0xff;
      entry[7] = (byte) 0xff;
      putLe32(entry, 8, 2048);
      putLe32(entry, 12, sectors - 2048);
      f.seek(446);
      f.write(entry);
      f.seek(510);
      f.write(new byte[] {0x55, (byte) 0xaa});
      f.seek(2048L * 512);
      f.write("precious data in partition 1\n".getBytes(StandardCharsets.US_ASCII));
    }
  }

  /** A LUKS1 header's magic and version at offset 0 (what blkid and wipefs look for), then text. */
  public static void writeLuksHeaderWithData(Path image) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.seek(0);
      f.write(new byte[] {'L', 'U', 'K', 'S', (byte) 0xba, (byte) 0xbe, 0x00, 0x01});
      f.seek(1 << 20);
      f.write("precious encrypted data\n".getBytes(StandardCharsets.US_ASCII));
    }
  }

  /**
   * A new image of {@code bytes} bytes holding an ext4 filesystem with one file, {@code name}
   * with {@code text}, made by mkfs.ext4 from a directory (nothing is mounted).
   */
  public static void writeExt4WithFile(Path image, long bytes, String name, String text) throws IOException {
    Path content = Files.createTempDirectory(image.toAbsolutePath().getParent(), ".content-");
    try {
      Files.writeString(content.resolve(name), text);
      try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
        f.setLength(bytes);
      }
      new Commands().check(List.of("mkfs.ext4", "-F", "-q", "-d", content.toString(), image.toString()),
          CallContext.of(Duration.ofSeconds(60), "test", "test"), "making a test ext4 image");
    } finally {
      Files.deleteIfExists(content.resolve(name));
      Files.deleteIfExists(content);
    }
  }

  /** The SHA-256 of the whole file, in hex. */
  public static String sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
    try (var in = Files.newInputStream(file)) {
      byte[] b = new byte[1 << 16];
      int n;
      while ((n = in.read(b)) > 0) {
        md.update(b, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static void putLe32(byte[] b, int off, long v) {
    for (int i = 0; i < 4; i++) {
      b[off + i] = (byte) (v >>> (8 * i));
    }
  }
}
