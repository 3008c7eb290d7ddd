package org.dvdi.core.engine;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.config.DvdiConfig.Step;
import org.dvdi.core.seams.CrashHook;
import org.dvdi.core.seams.Scheduler;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.VolumeProvider;

/**
 * Provider calls: each with its step's deadline, each driver with its own bounded pool of
 * threads, so that one provider's slowness never delays another's volumes nor a container
 * without volumes (those never reach a provider pool).
 *
 * <p>A call past its deadline is abandoned, not forgotten: its caller learns TIMEOUT at once
 * ({@link Op#caller}), but the call's thread keeps the volume's lane until the provider
 * returns, and then the engine undoes whatever the late call did. Two calls on one volume
 * therefore never overlap.
 */
final class ProviderCalls {
  /** Grace after a step's deadline before dvdi gives up on the call (the provider's own deadline fires first and says more). */
  static final Duration GRACE = Duration.ofSeconds(2);

  /** The longest {@code steps} one after the other may take: each step's timeout and its grace. */
  static Duration budget(DvdiConfig config, Step... steps) {
    Duration d = Duration.ZERO;
    for (Step s : steps) {
      d = d.plus(config.timeout(s)).plus(GRACE);
    }
    return d;
  }

  private final DvdiConfig config;
  private final Metrics metrics;
  private final Scheduler scheduler;
  /** Threads lent to each driver's pool for its calls past their deadline. */
  private final Map<String, AtomicInteger> lent = new ConcurrentHashMap<>();

  private final CrashHook crash;

  ProviderCalls(DvdiConfig config, Metrics metrics, Scheduler scheduler, CrashHook crash) {
    this.config = config;
    this.metrics = metrics;
    this.scheduler = scheduler;
    this.crash = crash;
  }

  /**
   * The pool that runs the lanes (and so the provider calls) of {@code driver}'s volumes:
   * {@code workers} threads, and one more for each of its calls past its deadline (up to
   * {@code workers} more), interrupted when dvdi closes.
   */
  Scheduler.Pool pool(String driver) {
    return scheduler.pool("dvdi-" + driver, config.workers(), true);
  }

  /** A call of {@code driver} passed its deadline and holds its thread: lend the pool one (false: none left to lend). */
  private boolean lend(String driver) {
    AtomicInteger n = lent.computeIfAbsent(driver, d -> new AtomicInteger());
    if (n.incrementAndGet() > config.workers()) {
      n.decrementAndGet();
      return false;
    }
    pool(driver).lend();
    metrics.count("provider_threads_lent");
    return true;
  }

  private void giveBack(String driver) {
    lent.get(driver).decrementAndGet();
    pool(driver).giveBack();
  }

  /**
   * One operation on a volume's lane, seen by one caller: the caller's future completes with
   * TIMEOUT as soon as a call passes its deadline (or the operation waited too long for its
   * lane), while the lane goes on until the provider has returned.
   */
  static final class Op<T> {
    final CompletableFuture<T> caller = new CompletableFuture<>();
    private volatile DvdiException abandoned;

    boolean abandon(DvdiException why) {
      synchronized (this) {
        if (abandoned == null) {
          abandoned = why;
        }
      }
      return caller.completeExceptionally(why);
    }

    /** Why the caller gave up on this operation, or null. */
    DvdiException abandoned() {
      return abandoned;
    }
  }

  /**
   * Calls a provider on the current (lane) thread with the step's timeout. Past the deadline
   * (plus {@link #GRACE}) the operation is abandoned: {@code op}'s caller fails with TIMEOUT and
   * the thread is interrupted; when the provider returns anyway (with or without success),
   * this throws that TIMEOUT, so that the engine undoes what the late call did.
   */
  <T> T call(VolumeProvider p, Step step, String what, Op<?> op, Function<CallContext, T> body) {
    Duration timeout = config.timeout(step);
    CallContext ctx = CallContext.of(timeout, what, config.instanceId(), scheduler::nanoTime);
    String metric = "provider_" + step.name().toLowerCase(Locale.ROOT);
    if (op.abandoned() != null) {
      throw op.abandoned();
    }
    Thread me = Thread.currentThread();
    DvdiException late = DvdiException.timeout(what + " (driver " + p.driver() + ") did not finish within "
        + timeout.toMillis() + " ms (" + step.key() + "); abandoned: its effect is undone when it ends");
    boolean[] done = {false};
    boolean[] lentOne = {false};
    Scheduler.Cancellable timer = scheduler.schedule(timeout.plus(GRACE), () -> {
      synchronized (done) {
        if (done[0]) {
          return;
        }
        metrics.count(metric + "_timeouts");
        op.abandon(late);
        lentOne[0] = lend(p.driver()); // this thread stays in the call: live work gets another
        me.interrupt();
      }
    });
    long start = scheduler.nanoTime();
    String point = "call." + step.name().toLowerCase(Locale.ROOT);
    try {
      crash.reached(point + ".started");
      T r = body.apply(ctx);
      crash.reached(point + ".done");
      metrics.time(metric, start);
      if (op.abandoned() != null) {
        throw op.abandoned();
      }
      return r;
    } catch (DvdiException e) {
      if (op.abandoned() != null) {
        throw op.abandoned();
      }
      metrics.count(metric + "_failures");
      throw e;
    } catch (RuntimeException e) {
      if (op.abandoned() != null) {
        throw op.abandoned();
      }
      metrics.count(metric + "_failures");
      DvdiException d = DvdiException.wrap(e, what);
      if (d.getCode() == ErrorCode.INTERNAL) {
        throw DvdiException.provider(what + " (driver " + p.driver() + "): " + d.getMessage(), e);
      }
      throw d;
    } finally {
      synchronized (done) {
        done[0] = true;
        if (lentOne[0]) {
          giveBack(p.driver());
        }
      }
      timer.cancel();
      Thread.interrupted(); // an interrupt meant for this call ends with it
      if (op.abandoned() != null) {
        metrics.count(metric + "_ended_late");
      }
    }
  }

  /** Gives the caller of {@code op} TIMEOUT if the operation has not finished after {@code budget}. */
  void bound(Op<?> op, Duration budget, String what) {
    Scheduler.Cancellable t = scheduler.schedule(budget, () -> {
      op.abandon(DvdiException.timeout(what + " did not finish within " + budget.toMillis() + " ms (waiting for "
          + "an earlier step on the same volume, or for a thread of its provider)"));
    });
    op.caller.whenComplete((r, e) -> t.cancel());
  }
}
