package org.dvdi.core.bridge;

/**
 * The native side of the bridge: implemented in C++ ({@code native/bridge}) and registered
 * with {@code RegisterNatives} when the bridge starts the JVM. Not available in a plain JVM
 * (tests, the CLI): {@link Facade} only calls these after the bridge said it registered them.
 */
final class Native {
  private Native() {}

  /**
   * Completes the bridge call {@code tag}.
   *
   * @param ok true on success
   * @param code the ErrorCode name when not ok
   * @param message the error message when not ok (UTF-8)
   * @param result the result JSON when ok (UTF-8)
   */
  static native void complete(long tag, boolean ok, String code, byte[] message, byte[] result);

  /** Writes a line to the host's log (the agent's glog): level 0 info, 1 warning, 2 error (UTF-8). */
  static native void log(int level, byte[] message);
}
