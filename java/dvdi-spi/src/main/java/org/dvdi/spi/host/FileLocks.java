package org.dvdi.spi.host;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.dvdi.spi.DvdiException;

/**
 * Advisory locks on a lock file that hold across threads of this process and across
 * processes (the agent's module, the CLI, a second agent sharing a loop pool). Waiting is
 * bounded: a lock not had in time fails with TIMEOUT naming the file.
 */
public final class FileLocks {
  private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

  private FileLocks() {}

  /** A held lock; closing it releases it. */
  public static final class Held implements AutoCloseable {
    private final ReentrantLock jvm;
    private final FileChannel channel;
    private final FileLock lock;

    private Held(ReentrantLock jvm, FileChannel channel, FileLock lock) {
      this.jvm = jvm;
      this.channel = channel;
      this.lock = lock;
    }

    @Override
    public void close() {
      try {
        lock.release();
        channel.close();
      } catch (IOException e) {
        // closing the channel releases the lock in any case
      } finally {
        jvm.unlock();
      }
    }
  }

  /**
   * Takes the lock on {@code file} (created if missing), shared or exclusive, waiting at
   * most {@code timeout}. {@code what} names the lock in errors.
   */
  public static Held lock(Path file, boolean shared, Duration timeout, String what) {
    Path key = file.toAbsolutePath().normalize();
    ReentrantLock jvm = IN_PROCESS.computeIfAbsent(key, k -> new ReentrantLock());
    long until = System.nanoTime() + timeout.toNanos();
    try {
      if (!jvm.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
        throw DvdiException.timeout(what + " (" + key + ") is held by another thread of this process for more than "
            + timeout.toMillis() + " ms");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw DvdiException.timeout("interrupted waiting for " + what + " (" + key + ")");
    }
    FileChannel ch = null;
    try {
      if (key.getParent() != null) {
        Files.createDirectories(key.getParent());
      }
      ch = shared
          ? FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
          : FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      long sleep = 1;
      while (true) {
        FileLock l = ch.tryLock(0L, Long.MAX_VALUE, shared);
        if (l != null) {
          return new Held(jvm, ch, l);
        }
        if (System.nanoTime() - until > 0) {
          throw heldByAnotherProcess(key, what, timeout);
        }
        Thread.sleep(sleep);
        sleep = Math.min(sleep * 2, 20);
      }
    } catch (IOException e) {
      closeQuietly(ch);
      jvm.unlock();
      throw DvdiException.internal("cannot lock " + what + " (" + key + ")", e);
    } catch (InterruptedException e) {
      closeQuietly(ch);
      jvm.unlock();
      Thread.currentThread().interrupt();
      throw DvdiException.timeout("interrupted waiting for " + what + " (" + key + ")");
    } catch (RuntimeException e) {
      closeQuietly(ch);
      jvm.unlock();
      throw e;
    }
  }

  /**
   * The error when the lock on {@code file} was held by another process for all of
   * {@code timeout} (also what a simulated lock table says at once).
   */
  public static DvdiException heldByAnotherProcess(Path file, String what, Duration timeout) {
    return DvdiException.timeout(what + " (" + file.toAbsolutePath().normalize() + ") is held by another process for more than "
        + timeout.toMillis() + " ms");
  }

  private static void closeQuietly(FileChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException ignored) {
        // nothing to do
      }
    }
  }
}
