package org.dvdi.core.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.logging.Logger;

/**
 * Seeded tries of a step-list test, as STYLE.md's "Testing a state machine" asks (no
 * property-testing library): each try draws its steps from one seed and runs them on a world
 * built from the same seed; a failing try is shortened by a minimiser (steps dropped while
 * it still fails the same way) and reported with one line that replays it.
 *
 * <p>System properties: {@code dvdi.sim.seed} replays one try; {@code dvdi.sim.threads} how
 * many run at once (each try is a world of its own); {@code dvdi.sim.tries} sets
 * how many tries run (a long run on a developer's machine); {@code dvdi.sim.base} sets the
 * first try's seed ({@code random} draws one, printed), so that a long run can explore past
 * what CI covers.
 *
 * @param <S> a step
 */
public final class SeededTries<S> {
  private static final Logger LOG = Logger.getLogger(SeededTries.class.getName());

  /** Seeds of consecutive tries are this far apart (the golden ratio's 64-bit constant). */
  private static final long SPREAD = 0x9E3779B97F4A7C15L;
  /** The first try's seed unless {@code dvdi.sim.base} says otherwise: CI runs the same tries each time. */
  public static final long DEFAULT_BASE = 20261203L;
  /** The minimiser gives up after this many runs and reports the shortest failure it has. */
  static final int MINIMISER_RUNS = 5_000;
  /** A long run logs its progress after each twentieth of its tries, never more often than this. */
  static final int PROGRESS_MIN = 50_000;

  /** Draws one try's steps. */
  public interface Generator<S> {
    List<S> steps(Random random);
  }

  /** Runs one try's steps on a world made from {@code seed}; fails by throwing. */
  public interface Runner<S> {
    void run(List<S> steps, long seed) throws Exception;
  }

  /** What a run of tries did. */
  public record Summary(int tries, long steps, long millis) {
    @Override
    public String toString() {
      return String.format(Locale.ROOT, "%d tries, %d steps in %.1f s", tries, steps, millis / 1000.0);
    }
  }

  private final String replay;
  private final Generator<S> generator;
  private final Runner<S> runner;

  /**
   * @param replay the command that runs this test (the failing seed is appended as
   *     {@code -Ddvdi.sim.seed=<seed>})
   */
  public SeededTries(String replay, Generator<S> generator, Runner<S> runner) {
    this.replay = replay;
    this.generator = generator;
    this.runner = runner;
  }

  /** The seed of try {@code i} from {@code base}. */
  public static long seedOf(long base, long i) {
    return base + i * SPREAD;
  }

  /** Runs {@code defaultTries} tries (or what the system properties ask); throws the first failure, shortened. */
  public Summary check(int defaultTries) {
    String one = System.getProperty("dvdi.sim.seed");
    if (one != null) {
      long seed = Long.parseLong(one.trim());
      return runAll(List.of(seed));
    }
    int tries = Integer.getInteger("dvdi.sim.tries", defaultTries);
    String b = System.getProperty("dvdi.sim.base", Long.toString(DEFAULT_BASE)).trim();
    long base = b.equals("random") ? new Random().nextLong() : Long.parseLong(b);
    List<Long> seeds = new ArrayList<>(tries);
    for (int i = 0; i < tries; i++) {
      seeds.add(seedOf(base, i));
    }
    Summary s = runAll(seeds);
    LOG.info(s + " (dvdi.sim.base=" + base + ")");
    return s;
  }

  /**
   * Runs the tries on {@code dvdi.sim.threads} threads (default: one per processor; each try
   * is a world of its own, so the order they run in changes nothing), stopping at the first
   * failure; the lowest failing try is reported.
   */
  private Summary runAll(List<Long> seeds) {
    long t0 = System.nanoTime();
    int threads = Math.max(1, Math.min(seeds.size(), Integer.getInteger("dvdi.sim.threads",
        java.lang.Runtime.getRuntime().availableProcessors())));
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicLong steps = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.ConcurrentSkipListMap<Integer, Throwable> failed = new java.util.concurrent.ConcurrentSkipListMap<>();
    java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
    int every = Math.max(PROGRESS_MIN, seeds.size() / 20); // a long run says how far it is, 20 times
    Runnable worker = () -> {
      for (int i = next.getAndIncrement(); i < seeds.size() && failed.isEmpty(); i = next.getAndIncrement()) {
        List<S> list = generator.steps(new Random(seeds.get(i)));
        steps.addAndGet(list.size());
        Throwable f = failure(list, seeds.get(i));
        if (f != null) {
          failed.put(i, f);
        }
        int n = done.incrementAndGet();
        if (n % every == 0 && n < seeds.size()) {
          LOG.info(n + " of " + seeds.size() + " tries passed, " + steps.get() + " steps, in "
              + (System.nanoTime() - t0) / 1_000_000_000 + " s");
        }
      }
    };
    List<Thread> running = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread th = new Thread(worker, "tries-" + t);
      th.start();
      running.add(th);
    }
    for (Thread th : running) {
      try {
        th.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    if (!failed.isEmpty()) {
      int i = failed.firstKey();
      long seed = seeds.get(i);
      throw report(i + 1, seeds.size(), seed, generator.steps(new Random(seed)), failed.get(i));
    }
    return new Summary(Math.min(next.get(), seeds.size()), steps.get(), (System.nanoTime() - t0) / 1_000_000);
  }

  private Throwable failure(List<S> steps, long seed) {
    try {
      runner.run(steps, seed);
      return null;
    } catch (Exception | AssertionError e) {
      return e;
    }
  }

  private AssertionError report(int n, int of, long seed, List<S> steps, Throwable f) {
    List<S> shortest = minimise(steps, seed, f.getClass());
    Throwable again = failure(shortest, seed);
    StringBuilder m = new StringBuilder();
    m.append("try ").append(n).append(" of ").append(of).append(" failed (seed ").append(seed).append(", ")
        .append(steps.size()).append(" steps): ").append(f).append('\n');
    m.append("replay: ").append(replay).append(" -Ddvdi.sim.seed=").append(seed).append('\n');
    m.append("shortest failing steps (").append(shortest.size()).append(" of ").append(steps.size())
        .append(", same seed): ").append(shortest).append('\n');
    m.append("which fail with: ").append(again);
    AssertionError e = new AssertionError(m.toString(), f);
    return e;
  }

  /**
   * Drops steps while the try still fails with the same kind of error: first halves, then
   * smaller chunks, down to single steps (a simple delta debugging), within
   * {@link #MINIMISER_RUNS} runs.
   */
  List<S> minimise(List<S> steps, long seed, Class<?> kind) {
    List<S> cur = new ArrayList<>(steps);
    int runs = 0;
    for (int chunk = Math.max(1, cur.size() / 2); chunk >= 1 && runs < MINIMISER_RUNS; chunk /= 2) {
      boolean dropped = true;
      while (dropped && runs < MINIMISER_RUNS) {
        dropped = false;
        for (int from = 0; from < cur.size() && runs < MINIMISER_RUNS; ) {
          List<S> shorter = new ArrayList<>(cur.subList(0, from));
          shorter.addAll(cur.subList(Math.min(cur.size(), from + chunk), cur.size()));
          runs++;
          Throwable t = shorter.size() < cur.size() ? failure(shorter, seed) : null;
          if (t != null && kind.isInstance(t)) {
            cur = shorter;
            dropped = true;
          } else {
            from += chunk;
          }
        }
      }
    }
    return cur;
  }
}
