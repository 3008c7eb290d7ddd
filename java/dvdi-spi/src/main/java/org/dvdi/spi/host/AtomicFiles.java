package org.dvdi.spi.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Atomic replacement of small files: write a temporary file beside the target, fsync it,
 * rename it over the target, fsync the directory ({@link #create}: link it, for a file that
 * must not replace one). A reader sees the old file or the new one,
 * never a mix; after a crash the new file is there whole or not at all.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  public static void write(Path target, byte[] content) throws IOException {
    Path tmp = writeTemp(target, content);
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    syncDirectory(tmp.getParent());
  }

  /**
   * Like {@link #write}, but only where no file is: {@code target} appears whole or not at
   * all, and an existing file (or any directory entry) at {@code target} is never replaced
   * ({@link java.nio.file.FileAlreadyExistsException}).
   */
  public static void create(Path target, byte[] content) throws IOException {
    publish(writeTemp(target, content), target);
  }

  /**
   * Gives the complete, synced file {@code tmp} the name {@code target} with link(2), which
   * fails with {@link java.nio.file.FileAlreadyExistsException} when {@code target} exists
   * (rename(2) would replace it), then removes {@code tmp} (also when the link failed) and
   * fsyncs the directory.
   */
  public static void publish(Path tmp, Path target) throws IOException {
    try {
      Files.createLink(target, tmp);
    } finally {
      Files.deleteIfExists(tmp);
    }
    syncDirectory(target.toAbsolutePath().getParent());
  }

  /** Writes and fsyncs a temporary file beside {@code target}, named for this process and thread. */
  private static Path writeTemp(Path target, byte[] content) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid()
        + "-" + Thread.currentThread().getId());
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    return tmp;
  }

  /** fsyncs a directory, so that a rename or a new file in it is durable. */
  public static void syncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
