package org.dvdi.core.bench;

import java.util.Arrays;
import java.util.Locale;

/** Durations of one kind of operation, in nanoseconds, and their percentiles (nearest rank). */
final class Samples {
  private long[] nanos = new long[1024];
  private long[] starts = new long[1024];
  private boolean[] gc = new boolean[1024];
  private int n;

  /** As {@link #add(long, long)}, noting whether a garbage collection ran during the sample. */
  void add(long ns, long startNanos, boolean gcDuring) {
    add(ns, startNanos);
    gc[n - 1] = gcDuring;
  }

  /** How many samples are slower than {@code thresholdMs}. */
  int countAbove(double thresholdMs) {
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (nanos[i] / 1e6 > thresholdMs) {
        k++;
      }
    }
    return k;
  }

  /** How many samples slower than {@code thresholdMs} had a garbage collection during them. */
  int slowWithGc(double thresholdMs) {
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (nanos[i] / 1e6 > thresholdMs && gc[i]) {
        k++;
      }
    }
    return k;
  }

  /** A sample that took {@code ns}, started at {@code startNanos} ({@link System#nanoTime()}). */
  void add(long ns, long startNanos) {
    if (n == nanos.length) {
      nanos = Arrays.copyOf(nanos, n * 2);
      starts = Arrays.copyOf(starts, n * 2);
      gc = Arrays.copyOf(gc, n * 2);
    }
    starts[n] = startNanos;
    nanos[n++] = ns;
  }

  /**
   * For each sample slower than {@code thresholdMs}: milliseconds from the last of
   * {@code events} (nanoTime stamps) at or before its end, or -1 when none came before.
   */
  double[] slowSinceEvent(double thresholdMs, long[] events) {
    long[] ev = events.clone();
    Arrays.sort(ev);
    double[] out = new double[n];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (nanos[i] / 1e6 <= thresholdMs) {
        continue;
      }
      long endAt = starts[i] + nanos[i];
      int idx = Arrays.binarySearch(ev, endAt);
      int last = idx >= 0 ? idx : -idx - 2;
      out[k++] = last < 0 ? -1 : (endAt - ev[last]) / 1e6;
    }
    return Arrays.copyOf(out, k);
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
