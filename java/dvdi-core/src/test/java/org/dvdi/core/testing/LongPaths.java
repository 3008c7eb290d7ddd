package org.dvdi.core.testing;

/** Paths of a chosen length, for the tests of the path length limits (NAME_MAX, PATH_MAX). */
public final class LongPaths {
  private LongPaths() {}

  /**
   * A relative path of exactly {@code length} characters (ASCII: as many bytes) that the
   * request grammar takes: components of at most 200 letters, joined with '/'.
   */
  public static String relative(int length) {
    StringBuilder b = new StringBuilder();
    while (b.length() < length) {
      if (b.length() > 0) {
        b.append('/');
      }
      b.append("p".repeat(Math.min(200, Math.max(1, length - b.length()))));
    }
    return b.toString();
  }
}
