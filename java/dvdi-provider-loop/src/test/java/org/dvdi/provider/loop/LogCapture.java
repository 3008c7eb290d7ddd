package org.dvdi.provider.loop;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** What a class logs at WARNING or above while a test's body runs (on any thread). */
final class LogCapture {
  private LogCapture() {}

  interface Body {
    void run() throws Exception;
  }

  /** The messages {@code source}'s logger gets at WARNING or above during {@code body}, each prefixed with its level. */
  static List<String> warnings(Class<?> source, Body body) throws Exception {
    List<String> out = new CopyOnWriteArrayList<>();
    Handler h = new Handler() {
      @Override
      public void publish(LogRecord r) {
        if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
          out.add(r.getLevel() + " " + r.getMessage());
        }
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    };
    Logger log = Logger.getLogger(source.getName());
    log.addHandler(h);
    try {
      body.run();
    } finally {
      log.removeHandler(h);
    }
    return List.copyOf(out);
  }
}
