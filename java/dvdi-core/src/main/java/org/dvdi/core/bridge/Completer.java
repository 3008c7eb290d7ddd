package org.dvdi.core.bridge;

/** Where {@link Facade#submit} delivers results (message and result as UTF-8): the native bridge, or a test. */
@FunctionalInterface
public interface Completer {
  void complete(long tag, boolean ok, String code, byte[] message, byte[] result);
}
