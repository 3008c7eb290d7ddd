package org.dvdi.core.engine;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Counters and timers an operator can scrape (the Mesos adapter publishes them in the agent's
 * {@code /metrics/snapshot} under {@code dvdi/}). Timers keep count, total and max in ms.
 */
public final class Metrics {
  private final ConcurrentHashMap<String, LongAdder> counters = new ConcurrentHashMap<>();
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Timer> timers = new ConcurrentHashMap<>();

  static final class Timer {
    final LongAdder count = new LongAdder();
    final LongAdder totalMicros = new LongAdder();
    volatile long maxMicros;
    volatile long lastMicros;

    synchronized void record(long micros) {
      count.increment();
      totalMicros.add(micros);
      lastMicros = micros;
      if (micros > maxMicros) {
        maxMicros = micros;
      }
    }
  }

  /** @param nanoClock the monotonic clock timers read (the engine's) */
  public Metrics(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  public void count(String name) {
    counters.computeIfAbsent(name, k -> new LongAdder()).increment();
  }

  public void time(String name, long startNanos) {
    timers.computeIfAbsent(name, k -> new Timer()).record((nanoClock.getAsLong() - startNanos) / 1000);
  }

  /** name -> value; timers as {@code <name>_ms} (last), {@code _count}, {@code _total_ms}, {@code _max_ms}. */
  public Map<String, Double> snapshot() {
    Map<String, Double> out = new TreeMap<>();
    counters.forEach((k, v) -> out.put(k, v.doubleValue()));
    timers.forEach((k, t) -> {
      out.put(k + "_ms", t.lastMicros / 1000.0);
      out.put(k + "_count", t.count.doubleValue());
      out.put(k + "_total_ms", t.totalMicros.doubleValue() / 1000.0);
      out.put(k + "_max_ms", t.maxMicros / 1000.0);
    });
    return out;
  }
}
