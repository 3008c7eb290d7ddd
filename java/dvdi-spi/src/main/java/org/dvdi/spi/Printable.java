package org.dvdi.spi;

/**
 * What a task wrote, made safe to show in an error or a log line: every character outside
 * printable ASCII escaped ({@code \x0a}, {@code \u202e}), the backslash doubled (so that an
 * escape cannot be faked), and anything past {@link #MAX} characters cut, saying how long it
 * was. The one place for this rule; {@code Grammar.printable} is the same function.
 */
public final class Printable {
  /** How many characters of a value are shown. */
  public static final int MAX = 200;

  private Printable() {}

  public static String of(String v) {
    if (v == null) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < v.length() && i < MAX; i++) {
      char c = v.charAt(i);
      if (c == '\\') {
        b.append("\\\\");
      } else if (c < 0x20 || c == 0x7f) {
        b.append(String.format("\\x%02x", (int) c));
      } else if (c > 0x7f) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    if (v.length() > MAX) {
      b.append("... (").append(v.length()).append(" characters)");
    }
    return b.toString();
  }
}
