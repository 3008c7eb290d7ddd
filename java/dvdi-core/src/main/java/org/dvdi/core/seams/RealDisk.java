package org.dvdi.core.seams;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.logging.Logger;
import org.dvdi.spi.host.AtomicFiles;
import org.dvdi.spi.host.FileLocks;

/** {@link Disk} on this machine's file system: NIO, {@link AtomicFiles} and {@link FileLocks}. */
final class RealDisk implements Disk {
  private static final Logger LOG = Logger.getLogger(RealDisk.class.getName());

  @Override
  public void createPrivateDirectories(Path dir) throws IOException {
    Files.createDirectories(dir);
    try {
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    } catch (IOException | UnsupportedOperationException e) {
      LOG.warning("cannot restrict permissions of state directory " + dir + ": " + e.getMessage());
    }
  }

  @Override
  public boolean isDirectory(Path dir) {
    return Files.isDirectory(dir);
  }

  @Override
  public boolean exists(Path path) {
    return Files.exists(path, LinkOption.NOFOLLOW_LINKS);
  }

  @Override
  public byte[] readAll(Path file) throws IOException {
    return Files.readAllBytes(file);
  }

  @Override
  public FileId id(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    return new FileId(a.fileKey(), a.size());
  }

  @Override
  public OpenFile open(Path file) throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE);
    return new OpenFile() {
      @Override
      public void write(long position, ByteBuffer bytes) throws IOException {
        long pos = position;
        while (bytes.hasRemaining()) {
          pos += ch.write(bytes, pos);
        }
      }

      @Override
      public void sync() throws IOException {
        ch.force(false);
      }

      @Override
      public void truncate(long size) throws IOException {
        ch.truncate(size);
      }

      @Override
      public void close() throws IOException {
        ch.close();
      }
    };
  }

  @Override
  public void replace(Path target, byte[] content) throws IOException {
    AtomicFiles.write(target, content);
  }

  @Override
  public void move(Path from, Path to) throws IOException {
    Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
  }

  @Override
  public void copy(Path from, Path to) throws IOException {
    Files.copy(from, to);
    try (FileChannel c = FileChannel.open(to, StandardOpenOption.WRITE)) {
      c.force(true);
    }
    AtomicFiles.syncDirectory(to.toAbsolutePath().getParent());
  }

  @Override
  public Lock lock(Path file, boolean shared, Duration timeout, String what) {
    return FileLocks.lock(file, shared, timeout, what)::close;
  }
}
