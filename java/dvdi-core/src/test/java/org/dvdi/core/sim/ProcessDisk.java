package org.dvdi.core.sim;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import org.dvdi.core.seams.Disk;
import org.dvdi.core.seams.SimScheduler;

/**
 * One process's view of the world's disk: every operation first checks that the process
 * still lives, so that code of a killed process (a finally block unwinding) changes nothing.
 */
final class ProcessDisk implements Disk {
  private final Disk disk;
  private final SimScheduler process;

  ProcessDisk(Disk disk, SimScheduler process) {
    this.disk = disk;
    this.process = process;
  }

  @Override
  public void createPrivateDirectories(Path dir) throws IOException {
    process.check();
    disk.createPrivateDirectories(dir);
  }

  @Override
  public boolean isDirectory(Path dir) {
    process.check();
    return disk.isDirectory(dir);
  }

  @Override
  public boolean exists(Path path) {
    process.check();
    return disk.exists(path);
  }

  @Override
  public byte[] readAll(Path file) throws IOException {
    process.check();
    return disk.readAll(file);
  }

  @Override
  public FileId id(Path file) throws IOException {
    process.check();
    return disk.id(file);
  }

  @Override
  public OpenFile open(Path file) throws IOException {
    process.check();
    OpenFile f = disk.open(file);
    return new OpenFile() {
      @Override
      public void write(long position, ByteBuffer bytes) throws IOException {
        process.check();
        f.write(position, bytes);
      }

      @Override
      public void sync() throws IOException {
        process.check();
        f.sync();
      }

      @Override
      public void truncate(long size) throws IOException {
        process.check();
        f.truncate(size);
      }

      @Override
      public void close() throws IOException {
        f.close();
      }
    };
  }

  @Override
  public void replace(Path target, byte[] content) throws IOException {
    process.check();
    disk.replace(target, content);
  }

  @Override
  public void move(Path from, Path to) throws IOException {
    process.check();
    disk.move(from, to);
  }

  @Override
  public void copy(Path from, Path to) throws IOException {
    process.check();
    disk.copy(from, to);
  }

  @Override
  public Lock lock(Path file, boolean shared, Duration timeout, String what) {
    process.check();
    return disk.lock(file, shared, timeout, what);
  }
}
