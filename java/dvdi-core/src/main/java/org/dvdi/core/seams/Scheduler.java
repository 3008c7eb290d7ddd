package org.dvdi.core.seams;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The engine's seam to time and threads: its clock, every pool it runs work on, its timers
 * (deadlines, the reaper's passes), the threads of their own it starts (recovery), and the
 * few places where it waits for a future. {@link #real} gives the machine's clock and real
 * threads; the deterministic simulation passes one seeded, single-threaded scheduler with
 * virtual time (DESIGN.md, "Seams"), so that the engine's own code runs unchanged inside it.
 */
public interface Scheduler extends AutoCloseable {
  /** Real threads and the machine's clock; {@link #close} stops them. */
  static Scheduler real() {
    return new RealScheduler();
  }

  /** A monotonic clock, in nanoseconds (for durations and deadlines). */
  long nanoTime();

  /** The wall clock, in milliseconds since the epoch (for records). */
  long currentTimeMillis();

  /**
   * The pool named {@code name}, made at the first call with {@code threads} threads: tasks
   * beyond them wait in order, without bound. Every call with the same name gives the same pool.
   * At {@link #close}, an {@code interruptOnClose} pool's threads are interrupted (provider
   * calls, which may hang); the others' queued and running tasks finish (state writes, which an
   * interrupt would break), for a few seconds at most.
   */
  Pool pool(String name, int threads, boolean interruptOnClose);

  /** Runs {@code task} once after {@code delay}, on a timer (which must never block). */
  Cancellable schedule(Duration delay, Runnable task);

  /** Runs {@code task} every {@code period}, the first time after one period, never two at once. */
  Cancellable repeat(Duration period, Runnable task);

  /** Runs {@code body} on a thread of its own, named {@code name}. */
  void start(String name, Runnable body);

  /**
   * Waits for {@code f} and returns its value (or throws as {@link CompletableFuture#join}):
   * the engine's blocking waits go through here, so that the simulation can run other work
   * meanwhile.
   */
  <T> T await(CompletableFuture<T> f);

  /** Stops the timers and the pools (see {@link #pool}); threads started alone go on. */
  @Override
  void close();

  /**
   * A pool of threads. {@link #lend} runs one thread more while one of its tasks is stuck in a
   * call past its deadline (a provider's), {@link #giveBack} when that call has returned: calls
   * that hang do not use up the threads that live work needs.
   */
  interface Pool extends Executor {
    void lend();

    void giveBack();
  }

  /** A timer that can be stopped before it fires. */
  interface Cancellable {
    void cancel();
  }
}
