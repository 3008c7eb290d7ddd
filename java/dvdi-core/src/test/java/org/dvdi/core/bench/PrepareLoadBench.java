package org.dvdi.core.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.dvdi.core.TestDvdi;
import org.dvdi.core.bridge.Facade;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.json.Json;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.testing.HangingLoopFactory;

/**
 * Prepare latency while one provider hangs: a container without volumes and a container whose
 * loop volume another container holds mounted already (the fast path), each through the JNI
 * facade ({@link Facade#submit}, completion through the {@link org.dvdi.core.bridge.Completer}),
 * idle and while {@code hung} prepares of the test provider "hangloop" are in flight, each
 * hanging in attach until dvdi's deadline gives up on it (then started again). Idle and loaded
 * phases alternate in rounds, so that other load on the machine falls on both.
 */
final class PrepareLoadBench {
  /** The bench's own timeout for one call through the facade. */
  private static final long CALL_TIMEOUT_S = 120;
  /** How long after a hanging prepare's end its rollback and the next one's start count as "its burst". */
  private static final double BURST_MS = 500;

  private final Path root;
  private final PrintStream out;
  private final int samples;
  private final int rounds;
  private final int warmup;
  private final int hung;
  private final String attachTimeout;
  private final boolean stagger;
  private final boolean paced;

  private final Map<Long, CompletableFuture<Reply>> pending = new ConcurrentHashMap<>();
  private final AtomicLong tags = new AtomicLong();
  private final AtomicLong ids = new AtomicLong();
  private TestDvdi t;

  /** One completed facade call: when it was delivered, and what. */
  record Reply(boolean ok, String code, String message, String result, long doneNanos) {}

  PrepareLoadBench(Path root, PrintStream out, int samples, int rounds, int warmup, int hung, String attachTimeout,
      boolean stagger, boolean paced) {
    this.root = root;
    this.out = out;
    this.samples = samples;
    this.rounds = rounds;
    this.warmup = warmup;
    this.hung = hung;
    this.attachTimeout = attachTimeout;
    this.stagger = stagger;
    this.paced = paced;
  }

  /** Runs the bench; returns the problems found (empty when every check held). */
  List<String> run() throws Exception {
    List<String> problems = new ArrayList<>();
    t = new TestDvdi(root);
    t.settings.put("providers.hangloop.pool", root.resolve("hangpool").toString());
    t.settings.put("providers.hangloop.default-size", "32MiB");
    t.settings.put("providers.hangloop.hang-until-interrupted", "attach");
    t.settings.put(DvdiConfig.TIMEOUT_PREFIX + "attach", attachTimeout);
    Map<String, Object> init = Json.object();
    init.put("config_file", "");
    init.put("settings", t.settings);
    init.put("native_log", false);
    Facade.setCompleter((tag, ok, code, message, result) -> {
      long now = System.nanoTime();
      CompletableFuture<Reply> f = pending.remove(tag);
      if (f != null) {
        f.complete(new Reply(ok, code, new String(message, StandardCharsets.UTF_8),
            new String(result, StandardCharsets.UTF_8), now));
      }
    });
    HangingLoopFactory.resetCounters();
    Facade.init(Json.write(init));
    Load load = new Load();
    try {
      Reply holder = call("prepare", request("holder", "shared", null)).join();
      if (!holder.ok()) {
        throw new IllegalStateException("prepare of the holder of loop/shared failed: " + holder.code() + " " + holder.message());
      }
      Kinds warm = new Kinds();
      // interleaved warmup: idle, then loaded through a whole window (the hanging calls' ends,
      // rollbacks and restarts run, and are compiled, before anything is measured)
      phase(warm, warmup, null, false, problems);
      load.start();
      phase(warm, warmup, load, true, problems);
      load.stopAndDrain();
      load.reset();
      Kinds idle = new Kinds();
      Kinds loaded = new Kinds();
      for (int r = 0; r < rounds; r++) {
        phase(idle, samples, null, paced, problems);
        load.start();
        phase(loaded, samples, load, paced, problems);
        load.stopAndDrain();
      }
      report(idle, loaded, load);
      call("cleanup", cleanupRequest("holder")).join();
    } finally {
      load.close();
      Facade.shutdownForTests();
    }
    return problems;
  }

  /** Latencies per kind of one phase (idle or loaded). */
  static final class Kinds {
    long gcCount;
    long gcMs;
    final Samples none = new Samples();
    final Samples fast = new Samples();
    final Samples noneCleanup = new Samples();
    final Samples fastCleanup = new Samples();
  }

  private void phase(Kinds k, int n, Load load, boolean paced, List<String> problems) throws IOException {
    long[] gc0 = gc();
    try {
      samples(k, n, load, paced, problems);
    } finally {
      long[] gc1 = gc();
      k.gcCount += gc1[0] - gc0[0];
      k.gcMs += gc1[1] - gc0[1];
    }
  }

  /** Collections and milliseconds spent in them so far. */
  private static long[] gc() {
    long c = 0;
    long ms = 0;
    for (java.lang.management.GarbageCollectorMXBean b : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
      c += Math.max(0, b.getCollectionCount());
      ms += Math.max(0, b.getCollectionTime());
    }
    return new long[] {c, ms};
  }

  /**
   * One sample of each kind every {@code windowNanos / n} (paced, as tasks arrive, rather than
   * back to back): a loaded window then spans several deadlines of the hanging calls, and so
   * their ends, rollbacks and restarts.
   */
  private void samples(Kinds k, int n, Load load, boolean paced, List<String> problems) throws IOException {
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      long due = start + windowNanos() / n * i;
      long wait = due - System.nanoTime();
      if (paced && wait > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(wait);
      }
      if (load != null) {
        load.observe();
      }
      String a = "n" + ids.incrementAndGet();
      one(a, request(a, null, null), k.none, k.noneCleanup, false, problems);
      if (load != null) {
        load.observe();
      }
      String b = "f" + ids.incrementAndGet();
      one(b, request(b, "shared", null), k.fast, k.fastCleanup, true, problems);
    }
  }

  /** One prepare and its cleanup, each timed from submit to delivery. */
  private void one(String id, String req, Samples prep, Samples clean, boolean fastPath, List<String> problems) {
    long gc0 = gc()[0];
    long t0 = System.nanoTime();
    Reply p = call("prepare", req).join();
    prep.add(p.doneNanos() - t0, t0, gc()[0] != gc0);
    String creq = cleanupRequest(id);
    long t1 = System.nanoTime();
    Reply c = call("cleanup", creq).join();
    clean.add(c.doneNanos() - t1, t1);
    if (!p.ok() || !c.ok()) {
      problems.add("container " + id + ": prepare " + p.code() + " " + p.message() + "; cleanup " + c.code() + " " + c.message());
    } else if (fastPath) {
      Json.Node v = Json.parse(p.result(), "the prepare result").path("volumes").get(0);
      if (!v.path("fast_path").asBoolean(false)) {
        problems.add("container " + id + " did not take the fast path: " + p.result());
      }
    }
  }

  private void report(Kinds idle, Kinds loaded, Load load) {
    out.printf("prepare through the facade, idle and while %d prepares of driver hangloop hang in attach until "
        + "their deadline (timeout.attach=%s, plus dvdi's grace; started %s); %d rounds of %d samples per kind and "
        + "phase, warmup %d; %s%n", hung, attachTimeout, stagger ? "spread over the timeout" : "all at once", rounds,
        samples, warmup, paced ? String.format(java.util.Locale.ROOT, "paced over windows of %.0f s, each sample of "
        + "each kind every %.1f ms", windowNanos() / 1e9, windowNanos() / 1e6 / samples) : "back to back");
    line("container without volumes", idle.none, loaded.none);
    line("fast-path volume (loop/shared, held by another container)", idle.fast, loaded.fast);
    out.printf("  cleanups: without volumes idle p50 %s p99 %s, loaded p50 %s p99 %s; fast-path idle p50 %s p99 %s, "
        + "loaded p50 %s p99 %s%n", Samples.ms(idle.noneCleanup.percentileMs(50)), Samples.ms(idle.noneCleanup.percentileMs(99)),
        Samples.ms(loaded.noneCleanup.percentileMs(50)), Samples.ms(loaded.noneCleanup.percentileMs(99)),
        Samples.ms(idle.fastCleanup.percentileMs(50)), Samples.ms(idle.fastCleanup.percentileMs(99)),
        Samples.ms(loaded.fastCleanup.percentileMs(50)), Samples.ms(loaded.fastCleanup.percentileMs(99)));
    long[] events = load.events.stream().mapToLong(Long::longValue).toArray();
    for (String[] kind : new String[][] {{"without volumes", "none"}, {"fast-path", "fast"}}) {
      Samples i = kind[1].equals("none") ? idle.none : idle.fast;
      Samples l = kind[1].equals("none") ? loaded.none : loaded.fast;
      double thr = 2 * i.percentileMs(99);
      double[] since = l.slowSinceEvent(thr, events);
      java.util.Arrays.sort(since);
      int inBurst = 0;
      for (double d : since) {
        if (d >= 0 && d <= BURST_MS) {
          inBurst++;
        }
      }
      out.printf("  loaded prepares %s slower than 2x idle p99 (%s): %d of %d, %d of them ending within %d ms after a "
          + "hanging prepare started or ended (its state writes, its rollback's; a cycle is %s), %d with a GC during "
          + "them (idle, above idle p99: %d of %d); ms since then: %s; loaded p99.9 %s, max %s%n", kind[0], Samples.ms(thr),
          since.length, l.count(), inBurst, (long) BURST_MS,
          Samples.ms(windowNanos() / 2e6), l.slowWithGc(thr), i.slowWithGc(thr / 2),
          i.countAbove(thr / 2), since.length == 0 ? "-" : String.format(java.util.Locale.ROOT,
          "min %.0f, median %.0f, max %.0f", since[0], since[since.length / 2], since[since.length - 1]),
          Samples.ms(l.percentileMs(99.9)), Samples.ms(l.maxMs()));
    }
    out.printf("  GC: idle %d collections, %d ms; loaded %d collections, %d ms%n", idle.gcCount, idle.gcMs, loaded.gcCount,
        loaded.gcMs);
    out.printf("  load during the loaded windows: hangloop attaches hanging min %d max %d, hanging prepares "
        + "outstanding min %d; %d hanging prepares ended (all by TIMEOUT: %s)%n", load.minHanging, load.maxHanging,
        load.minOutstanding, load.ended.get(), load.ended.get() == load.timeouts.get());
  }

  private void line(String what, Samples idle, Samples loaded) {
    double i99 = idle.percentileMs(99);
    double l99 = loaded.percentileMs(99);
    out.printf("  %s: idle p50 %s p99 %s; loaded p50 %s p99 %s; loaded/idle p50 %s, p99 %s (goal p99 <= 2x): %s%n",
        what, Samples.ms(idle.percentileMs(50)), Samples.ms(i99), Samples.ms(loaded.percentileMs(50)),
        Samples.ms(l99), Samples.ratio(loaded.percentileMs(50), idle.percentileMs(50)), Samples.ratio(l99, i99),
        l99 <= 2 * i99 ? "met" : "MISSED");
  }

  /** A measured window: two of the hanging calls' deadlines (timeout.attach plus dvdi's grace, taken as 2 s). */
  private long windowNanos() {
    return 2 * (t.config().timeout(DvdiConfig.Step.ATTACH).toNanos() + TimeUnit.SECONDS.toNanos(2));
  }

  CompletableFuture<Reply> call(String method, String json) {
    long tag = tags.incrementAndGet();
    CompletableFuture<Reply> f = new CompletableFuture<>();
    pending.put(tag, f);
    Facade.submit(tag, method, json.getBytes(StandardCharsets.UTF_8));
    return f.orTimeout(CALL_TIMEOUT_S, TimeUnit.SECONDS);
  }

  /** A Mesos prepare request as the bridge sends it; a volume named by DVDI env vars, or none. */
  String request(String id, String volume, String driver) throws IOException {
    Path sandbox = Files.createDirectories(root.resolve("sandboxes").resolve(id));
    Map<String, Object> config = Json.object();
    config.put("directory", sandbox.toString());
    if (volume != null) {
      List<Object> vars = new ArrayList<>();
      vars.add(Map.of("name", EnvRequests.PREFIX + EnvRequests.NAME, "value", volume));
      if (driver != null) {
        vars.add(Map.of("name", EnvRequests.PREFIX + EnvRequests.DRIVER, "value", driver));
      }
      config.put("command_info", Map.of("environment", Map.of("variables", vars)));
    }
    Map<String, Object> req = Json.object();
    req.put("container_id", Map.of("value", id));
    req.put("container_config", config);
    return Json.write(req);
  }

  static String cleanupRequest(String id) {
    return Json.write(Map.of("container_id", Map.of("value", id)));
  }

  /** The hanging prepares: {@code hung} of them in flight, each started again when dvdi gives up on it. */
  final class Load implements AutoCloseable {
    private final ExecutorService starter = Executors.newSingleThreadExecutor(r -> {
      Thread th = new Thread(r, "bench-load");
      th.setDaemon(true);
      return th;
    });
    private volatile boolean running;
    final AtomicInteger outstanding = new AtomicInteger();
    final AtomicInteger ended = new AtomicInteger();
    final AtomicInteger timeouts = new AtomicInteger();
    /** When a hanging prepare was started or ended (its caller answered). */
    final java.util.Queue<Long> events = new java.util.concurrent.ConcurrentLinkedQueue<>();
    int minHanging = Integer.MAX_VALUE;
    int maxHanging;
    int minOutstanding = Integer.MAX_VALUE;

    /** Forgets what the warmup's load saw. */
    void reset() {
      events.clear();
      ended.set(0);
      timeouts.set(0);
      minHanging = Integer.MAX_VALUE;
      maxHanging = 0;
      minOutstanding = Integer.MAX_VALUE;
    }

    void start() throws Exception {
      running = true;
      long gap = stagger ? t.config().timeout(DvdiConfig.Step.ATTACH).toNanos() / Math.max(1, hung) : 0;
      for (int k = 0; k < hung; k++) {
        startOne(k);
        if (gap > 0) {
          TimeUnit.NANOSECONDS.sleep(gap);
        }
      }
      // the measured window begins once the provider's threads are all hanging
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (hanging() < Math.min(hung, t.config().workers())) {
        if (System.nanoTime() > until) {
          throw new IllegalStateException("the hanging prepares did not start: " + hanging() + " attaches hang");
        }
        Thread.sleep(5);
      }
    }

    private void startOne(int k) {
      String id = "hang-" + k + "-" + ids.incrementAndGet();
      String req;
      try {
        req = request(id, "h" + k, "hangloop");
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      outstanding.incrementAndGet();
      events.add(System.nanoTime());
      call("prepare", req).whenComplete((r, e) -> {
        outstanding.decrementAndGet();
        ended.incrementAndGet();
        events.add(r != null ? r.doneNanos() : System.nanoTime());
        if (r != null && "TIMEOUT".equals(r.code())) {
          timeouts.incrementAndGet();
        }
        if (running) {
          starter.execute(() -> startOne(k));
        }
      });
    }

    int hanging() {
      AtomicInteger a = HangingLoopFactory.inFlight.get("attach");
      return a == null ? 0 : a.get();
    }

    void observe() {
      int h = hanging();
      minHanging = Math.min(minHanging, h);
      maxHanging = Math.max(maxHanging, h);
      minOutstanding = Math.min(minOutstanding, outstanding.get());
    }

    /** Stops starting hanging prepares and waits until every one has ended and its provider call returned. */
    void stopAndDrain() throws InterruptedException {
      running = false;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(CALL_TIMEOUT_S);
      while ((outstanding.get() > 0 || hanging() > 0) && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      Thread.sleep(500); // the last rollbacks' state writes
    }

    @Override
    public void close() {
      running = false;
      starter.shutdownNow();
    }
  }
}
