package org.dvdi.spi;

/**
 * Every error dvdi reports carries one of these codes, across the JNI boundary
 * ({@code dvdi <CODE>: <message>} in the agent) and in the CLI's exit status.
 */
public enum ErrorCode {
  /** The task's request (env vars, ContainerInfo volumes, options) breaks a rule. */
  INVALID_REQUEST,
  /** The operator's configuration (config file, module parameters) breaks a rule. */
  INVALID_CONFIG,
  /** The volume does not exist (and may not be created implicitly). */
  VOLUME_NOT_FOUND,
  /** The volume is in use elsewhere (another host holds it, or it still has users). */
  VOLUME_BUSY,
  /** The storage provider failed (command failed, plugin answered an error, cloud API error). */
  PROVIDER_FAILURE,
  /** A call did not finish within its deadline. */
  TIMEOUT,
  /** A bug or an unexpected condition inside dvdi (including unreadable state). */
  INTERNAL;

  /** Parses a code name; unknown names map to {@link #INTERNAL}. */
  public static ErrorCode parse(String name) {
    for (ErrorCode c : values()) {
      if (c.name().equals(name)) {
        return c;
      }
    }
    return INTERNAL;
  }
}
