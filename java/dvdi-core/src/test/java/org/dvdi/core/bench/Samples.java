package org.dvdi.core.bench;

import java.util.Arrays;
import java.util.Locale;

/** Durations of one kind of operation, in nanoseconds, and their percentiles (nearest rank). */
final class Samples {
  private long[] nanos = new long[1024];
  private int n;

  void add(long ns) {
    if (n == nanos.length) {
      nanos = Arrays.copyOf(nanos, n * 2);
    }
    nanos[n++] = ns;
  }

  void addAll(Samples other) {
    for (int i = 0; i < other.n; i++) {
      add(other.nanos[i]);
    }
  }

  int count() {
    return n;
  }

  /** The {@code p}-th percentile in milliseconds (nearest rank: the smallest sample with p% at or below it). */
  double percentileMs(double p) {
    if (n == 0) {
      return Double.NaN;
    }
    long[] s = Arrays.copyOf(nanos, n);
    Arrays.sort(s);
    int rank = (int) Math.ceil(p / 100.0 * n);
    return s[Math.max(0, Math.min(n - 1, rank - 1))] / 1e6;
  }

  double minMs() {
    return percentileMs(0);
  }

  double maxMs() {
    return percentileMs(100);
  }

  static String ms(double v) {
    return String.format(Locale.ROOT, v < 10 ? "%.3f ms" : "%.1f ms", v);
  }

  static String ratio(double a, double b) {
    return String.format(Locale.ROOT, "%.2fx", a / b);
  }
}
