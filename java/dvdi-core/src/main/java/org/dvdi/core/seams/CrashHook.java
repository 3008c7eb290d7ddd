package org.dvdi.core.seams;

/**
 * The engine's named step boundaries ({@code org.dvdi.core.engine.CrashPoints#ALL}), where a
 * test may crash the process: the crash-point harness kills the JVM with SIGKILL
 * ({@code CrashPoints.fromProperties()}), the simulation kills a simulated process there. In
 * production nothing happens.
 */
@FunctionalInterface
public interface CrashHook {
  /** Nothing: the boundary is passed. */
  CrashHook NONE = point -> {};

  /** The engine reached {@code point}; a crash happens inside this call, when the test wants one. */
  void reached(String point);
}
