package org.dvdi.provider.ebs;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;

/**
 * Polling with exponential backoff up to the call's deadline: EBS reports attach and detach
 * as states that change later (usually within 1 to 4 s), and DescribeVolumes is rate-limited
 * per account, so an agent polls early and then less and less often.
 */
final class Backoff {
  private final Duration initial;
  private final Duration max;

  Backoff(Duration initial, Duration max) {
    this.initial = initial;
    this.max = max;
  }

  /**
   * Calls {@code probe} until it returns a value: at once, then after {@code initial},
   * doubling up to {@code max}. At the deadline fails with TIMEOUT: {@code what} plus the
   * last state {@code state} reports.
   */
  <T> T until(CallContext ctx, String what, Supplier<Optional<T>> probe, Supplier<String> state) {
    long start = System.nanoTime();
    long sleep = initial.toMillis();
    while (true) {
      Optional<T> v;
      try {
        v = probe.get();
      } catch (DvdiException e) {
        if (e.getCode() != ErrorCode.TIMEOUT) {
          throw e;
        }
        throw timeout(ctx, what, state, start, e); // the last look ran into the deadline
      }
      if (v.isPresent()) {
        return v.get();
      }
      long left = ctx.remaining().toMillis();
      if (left <= 0) {
        throw timeout(ctx, what, state, start, null);
      }
      sleep(Math.min(sleep, left), ctx);
      sleep = Math.min(sleep * 2, max.toMillis());
    }
  }

  private static DvdiException timeout(CallContext ctx, String what, Supplier<String> state, long start, Throwable cause) {
    return new DvdiException(ErrorCode.TIMEOUT, ctx.operation() + ": " + what + ": still " + state.get() + " after "
        + (System.nanoTime() - start) / 1_000_000 + " ms, at the call's deadline", cause);
  }

  /** Sleeps; an interrupt (the call was abandoned) ends the call with TIMEOUT. */
  static void sleep(long millis, CallContext ctx) {
    try {
      Thread.sleep(Math.max(1, millis));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw DvdiException.timeout(ctx.operation() + ": interrupted while waiting (the call was abandoned)");
    }
  }
}
