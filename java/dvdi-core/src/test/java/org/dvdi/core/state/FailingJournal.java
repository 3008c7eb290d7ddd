package org.dvdi.core.state;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;

/**
 * The state journal on a disk that fails on cue: a {@link StateStore.JournalOpener} whose
 * channels write to the real file, except that the next {@link #failForces} fdatasyncs (after
 * the bytes were written, as a disk that reports a write-back error does) and the next
 * {@link #failTruncates} truncations throw an IOException.
 */
final class FailingJournal implements StateStore.JournalOpener {
  /** How many of the next force calls fail. */
  int failForces;
  /** How many of the next truncate calls fail. */
  int failTruncates;
  /** Force calls seen (failed or not). */
  int forces;

  @Override
  public FileChannel open(Path journal) throws IOException {
    return new Channel(StateStore.JOURNAL_FILE.open(journal));
  }

  private final class Channel extends FileChannel {
    private final FileChannel real;

    Channel(FileChannel real) {
      this.real = real;
    }

    @Override
    public void force(boolean metaData) throws IOException {
      forces++;
      if (failForces > 0) {
        failForces--;
        throw new IOException("Input/output error (injected fdatasync failure)");
      }
      real.force(metaData);
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
      if (failTruncates > 0) {
        failTruncates--;
        throw new IOException("Input/output error (injected truncate failure)");
      }
      real.truncate(size);
      return this;
    }

    @Override
    public int write(ByteBuffer src, long position) throws IOException {
      return real.write(src, position);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return real.read(dst);
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
      return real.read(dsts, offset, length);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      return real.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
      return real.write(srcs, offset, length);
    }

    @Override
    public long position() throws IOException {
      return real.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
      real.position(newPosition);
      return this;
    }

    @Override
    public long size() throws IOException {
      return real.size();
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
      return real.transferTo(position, count, target);
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
      return real.transferFrom(src, position, count);
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
      return real.read(dst, position);
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
      return real.map(mode, position, size);
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
      return real.lock(position, size, shared);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
      return real.tryLock(position, size, shared);
    }

    @Override
    protected void implCloseChannel() throws IOException {
      real.close();
    }
  }
}
