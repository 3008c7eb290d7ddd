package org.dvdi.core.bridge;

import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.SimpleFormatter;

/** Sends java.util.logging records to the host's log (the agent's glog) through the bridge. */
final class NativeLogHandler extends Handler {
  private final SimpleFormatter formatter = new SimpleFormatter();

  @Override
  public void publish(LogRecord r) {
    if (!isLoggable(r)) {
      return;
    }
    int level = r.getLevel().intValue() >= Level.SEVERE.intValue() ? 2
        : r.getLevel().intValue() >= Level.WARNING.intValue() ? 1 : 0;
    // dvdi's own records carry no parameters: no formatter (and its resource bundles) for them.
    String text = r.getParameters() == null || r.getParameters().length == 0 ? r.getMessage() : formatter.formatMessage(r);
    String msg = "[" + shortName(r.getLoggerName()) + "] " + text;
    if (r.getThrown() != null) {
      msg += ": " + r.getThrown();
    }
    try {
      Native.log(level, msg.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    } catch (UnsatisfiedLinkError e) {
      System.err.println(msg); // the bridge did not register natives: nowhere better to go
    }
  }

  private static String shortName(String logger) {
    if (logger == null) {
      return "dvdi";
    }
    int i = logger.lastIndexOf('.');
    return i < 0 ? logger : logger.substring(i + 1);
  }

  @Override
  public void flush() {}

  @Override
  public void close() {}
}
