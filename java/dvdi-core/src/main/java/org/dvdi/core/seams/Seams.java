package org.dvdi.core.seams;

/**
 * What the engine is given of the world (DESIGN.md, "Seams"): time and threads, the host, and
 * its step boundaries where a test may crash it. The state store's disk and the providers are
 * given to it separately (the store and the provider registry).
 */
public record Seams(Scheduler scheduler, Host host, CrashHook crash) {
  /** Without crash points (as in production). */
  public Seams(Scheduler scheduler, Host host) {
    this(scheduler, host, CrashHook.NONE);
  }

  /**
   * This machine, with a new scheduler of real threads (closed with the engine), and the crash
   * points a test JVM's system properties ask for ({@code org.dvdi.core.engine.CrashPoints}).
   */
  public static Seams real() {
    return new Seams(Scheduler.real(), Host.REAL, org.dvdi.core.engine.CrashPoints.fromProperties());
  }
}
