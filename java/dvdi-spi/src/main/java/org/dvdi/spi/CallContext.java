package org.dvdi.spi;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Per-call facts a provider gets: the deadline it must finish by, and a label for its logs
 * and errors. dvdi also enforces the deadline from outside (the call is abandoned and the
 * request fails with TIMEOUT); providers use {@link #remaining()} to bound their own waits
 * and child processes, so that nothing they start outlives the call.
 */
public final class CallContext {
  private final long deadlineNanos;
  private final String operation;
  private final String mountId;
  private final LongSupplier clock;

  private CallContext(long deadlineNanos, String operation, String mountId, LongSupplier clock) {
    this.deadlineNanos = deadlineNanos;
    this.operation = operation;
    this.mountId = mountId;
    this.clock = clock;
  }

  /**
   * @param timeout how long the call may take
   * @param operation what is being done, e.g. "mount loop/web1"
   * @param mountId this host's id for mount references (the Docker plugin protocol's Mount ID)
   */
  public static CallContext of(Duration timeout, String operation, String mountId) {
    return of(timeout, operation, mountId, System::nanoTime);
  }

  /**
   * As {@link #of(Duration, String, String)}, on the monotonic clock {@code nanoClock} (the
   * engine's: virtual time in its simulation).
   */
  public static CallContext of(Duration timeout, String operation, String mountId, LongSupplier nanoClock) {
    return new CallContext(nanoClock.getAsLong() + timeout.toNanos(), operation, mountId, nanoClock);
  }

  public String operation() {
    return operation;
  }

  public String mountId() {
    return mountId;
  }

  /** Time left; zero or negative once the deadline passed. */
  public Duration remaining() {
    return Duration.ofNanos(deadlineNanos - clock.getAsLong());
  }

  /** Throws TIMEOUT naming {@code step} if the deadline has passed. */
  public void check(String step) {
    if (clock.getAsLong() - deadlineNanos >= 0) {
      throw DvdiException.timeout(operation + ": deadline passed before " + step);
    }
  }

  /** A context for a sub-step with at most {@code cap} of the remaining time. */
  public CallContext capped(Duration cap) {
    long capped = clock.getAsLong() + cap.toNanos();
    return new CallContext(capped - deadlineNanos < 0 ? capped : deadlineNanos, operation, mountId, clock);
  }
}
