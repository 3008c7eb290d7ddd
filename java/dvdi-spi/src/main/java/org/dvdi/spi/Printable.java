package org.dvdi.spi;

/**
 * What a task wrote, made safe to show in an error or a log line: control characters (C0,
 * DEL, C1: newline, ESC, CSI...), line and paragraph separators, invisible format characters
 * (bidirectional overrides...) and unpaired surrogates escaped ({@code \x0a}, {@code \u202e}),
 * the backslash doubled (so that an escape cannot be faked), and anything past {@link #MAX}
 * characters cut, saying how long it was. Letters of any script stay as they are. The one
 * place for this rule; {@code Grammar.printable} is the same function.
 */
public final class Printable {
  /** How many characters (UTF-16 units) of a value are shown. */
  public static final int MAX = 200;

  private Printable() {}

  public static String of(String v) {
    if (v == null) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    int i = 0;
    while (i < v.length() && i < MAX) {
      int c = v.codePointAt(i);
      if (c == '\\') {
        b.append("\\\\");
      } else if (c < 0x80 && (c < 0x20 || c == 0x7f)) {
        b.append(String.format("\\x%02x", c));
      } else if (hidden(c)) {
        b.append(String.format("\\u%04x", c));
      } else {
        b.appendCodePoint(c);
      }
      i += Character.charCount(c);
    }
    if (v.length() > i) {
      b.append("... (").append(v.length()).append(" characters)");
    }
    return b.toString();
  }

  /** Characters that change what a log line or a terminal shows without being seen. */
  private static boolean hidden(int c) {
    switch (Character.getType(c)) {
      case Character.CONTROL:
      case Character.FORMAT:
      case Character.LINE_SEPARATOR:
      case Character.PARAGRAPH_SEPARATOR:
      case Character.SURROGATE:
      case Character.UNASSIGNED:
      case Character.PRIVATE_USE:
        return true;
      default:
        return false;
    }
  }
}
