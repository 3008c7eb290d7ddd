package org.dvdi.core.bench;

import java.util.Arrays;
import java.util.Locale;

/** Durations of one kind of operation, in nanoseconds, and their percentiles (nearest rank). */
final class Samples {
  private long[] nanos = new long[1024];
  private long[] starts = new long[1024];
  private int n;

  /** A sample that took {@code ns}, started at {@code startNanos} ({@link System#nanoTime()}). */
  void add(long ns, long startNanos) {
    if (n == nanos.length) {
      nanos = Arrays.copyOf(nanos, n * 2);
      starts = Arrays.copyOf(starts, n * 2);
    }
    starts[n] = startNanos;
    nanos[n++] = ns;
  }

  /**
   * Of the samples slower than {@code thresholdMs}: how many, and how many overlapped (or
   * started within {@code beforeMs} after) one of {@code events} (nanoTime stamps).
   */
  int[] slowNear(double thresholdMs, long[] events, double beforeMs) {
    long[] ev = events.clone();
    Arrays.sort(ev);
    int slow = 0;
    int near = 0;
    for (int i = 0; i < n; i++) {
      if (nanos[i] / 1e6 <= thresholdMs) {
        continue;
      }
      slow++;
      long from = starts[i] - (long) (beforeMs * 1e6);
      int k = Arrays.binarySearch(ev, from);
      int idx = k >= 0 ? k : -k - 1;
      if (idx < ev.length && ev[idx] <= starts[i] + nanos[i]) {
        near++;
      }
    }
    return new int[] {slow, near};
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
