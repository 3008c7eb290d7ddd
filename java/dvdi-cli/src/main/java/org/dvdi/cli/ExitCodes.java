package org.dvdi.cli;

/** The CLI's exit codes. */
public final class ExitCodes {
  /** Done; for verify: state, kernel and providers agree. */
  public static final int OK = 0;
  /** Failed (the message says why, with its dvdi error code). */
  public static final int ERROR = 1;
  /** The command line is wrong. */
  public static final int USAGE = 2;
  /** verify found drift between state, the kernel's mount table and the providers. */
  public static final int DRIFT = 3;

  private ExitCodes() {}
}
