package org.dvdi.spi;

/**
 * The one exception type of dvdi: an {@link ErrorCode} plus a message that says what
 * failed, where, and (for bad input) which field broke which rule.
 */
public class DvdiException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  public DvdiException(ErrorCode code, String message) {
    this(code, message, null);
  }

  public DvdiException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public ErrorCode getCode() {
    return code;
  }

  public static DvdiException invalid(String message) {
    return new DvdiException(ErrorCode.INVALID_REQUEST, message);
  }

  public static DvdiException config(String message) {
    return new DvdiException(ErrorCode.INVALID_CONFIG, message);
  }

  public static DvdiException notFound(String message) {
    return new DvdiException(ErrorCode.VOLUME_NOT_FOUND, message);
  }

  public static DvdiException busy(String message) {
    return new DvdiException(ErrorCode.VOLUME_BUSY, message);
  }

  public static DvdiException provider(String message) {
    return new DvdiException(ErrorCode.PROVIDER_FAILURE, message);
  }

  public static DvdiException provider(String message, Throwable cause) {
    return new DvdiException(ErrorCode.PROVIDER_FAILURE, message, cause);
  }

  public static DvdiException timeout(String message) {
    return new DvdiException(ErrorCode.TIMEOUT, message);
  }

  public static DvdiException internal(String message, Throwable cause) {
    return new DvdiException(ErrorCode.INTERNAL, message, cause);
  }

  /**
   * Returns {@code t} as a DvdiException: itself when it is one (also when wrapped in a
   * CompletionException/ExecutionException), otherwise INTERNAL naming the failed step.
   */
  public static DvdiException wrap(Throwable t, String what) {
    Throwable c = t;
    while ((c instanceof java.util.concurrent.CompletionException
            || c instanceof java.util.concurrent.ExecutionException)
        && c.getCause() != null) {
      c = c.getCause();
    }
    if (c instanceof DvdiException) {
      return (DvdiException) c;
    }
    String detail = c.getMessage() == null ? c.getClass().getName() : c.getClass().getSimpleName() + ": " + c.getMessage();
    return new DvdiException(ErrorCode.INTERNAL, what + ": " + detail, c);
  }

  @Override
  public String toString() {
    return "dvdi " + code + ": " + getMessage();
  }
}
