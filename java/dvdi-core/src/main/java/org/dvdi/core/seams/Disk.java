package org.dvdi.core.seams;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The state store's seam to the disk under it: exactly the file operations it makes, with the
 * durability each one gives. {@link #REAL} is this machine's file system; the deterministic
 * simulation passes a disk that loses what was not synced at a crash, may tear the last write,
 * and fails a write or an fdatasync on cue (DESIGN.md, "Seams").
 *
 * <p>What is durable: bytes written through an {@link OpenFile} once it is {@link OpenFile#sync
 * synced}; a {@link #replace} and a {@link #copy} when they return; a {@link #move} only once
 * a later {@link #replace} or {@link #copy} in the same directory returns (they sync it).
 */
public interface Disk {
  /** This machine's file system. */
  Disk REAL = new RealDisk();

  /**
   * Creates {@code dir} and its missing parents, and makes {@code dir} rwx------ (where the file
   * system cannot, a warning is logged and the directory is used as it is).
   */
  void createPrivateDirectories(Path dir) throws IOException;

  /** Whether {@code dir} is a directory. */
  boolean isDirectory(Path dir);

  /** Whether {@code path} exists (a symbolic link is not followed). */
  boolean exists(Path path);

  /** The whole file; {@link java.nio.file.NoSuchFileException} when it does not exist. */
  byte[] readAll(Path file) throws IOException;

  /**
   * The file's identity and size, to tell whether another process changed it:
   * {@link java.nio.file.NoSuchFileException} when it does not exist.
   */
  FileId id(Path file) throws IOException;

  /** Opens an existing file for writing at offsets. */
  OpenFile open(Path file) throws IOException;

  /**
   * Replaces {@code target} with {@code content} atomically and durably: writes a temporary
   * file beside it, fsyncs it, renames it over {@code target}, fsyncs the directory. A reader
   * sees the old file or the new one; after a crash the new one is there whole or not at all.
   */
  void replace(Path target, byte[] content) throws IOException;

  /**
   * Renames {@code from} to {@code to} atomically (replacing {@code to});
   * {@link java.nio.file.NoSuchFileException} when {@code from} does not exist. Not synced.
   */
  void move(Path from, Path to) throws IOException;

  /**
   * Copies {@code from} to the new file {@code to} durably (the copy fsynced, then the
   * directory); {@link java.nio.file.FileAlreadyExistsException} when {@code to} exists.
   */
  void copy(Path from, Path to) throws IOException;

  /**
   * Takes the advisory lock on {@code file} (created if missing), shared or exclusive, which
   * holds across threads and processes, waiting at most {@code timeout}: TIMEOUT naming the lock
   * ({@code what}) when it is not had in time.
   */
  Lock lock(Path file, boolean shared, Duration timeout, String what);

  /** A file's identity (its inode, or what stands for it) and size. */
  record FileId(Object key, long size) {}

  /** A file open for writing. */
  interface OpenFile extends AutoCloseable {
    /** Writes all of {@code bytes} at {@code position} (not synced). */
    void write(long position, ByteBuffer bytes) throws IOException;

    /** fdatasync: what was written and truncated so far is durable when it returns. */
    void sync() throws IOException;

    /** Cuts the file to {@code size} bytes (not synced). */
    void truncate(long size) throws IOException;

    @Override
    void close() throws IOException;
  }

  /** A held lock; closing it releases it. */
  interface Lock extends AutoCloseable {
    @Override
    void close();
  }
}
