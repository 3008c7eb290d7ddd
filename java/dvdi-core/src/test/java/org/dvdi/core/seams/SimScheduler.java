package org.dvdi.core.seams;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The deterministic scheduler of the simulation (DESIGN.md, "Seams"): virtual time, and the
 * engine's threads run one at a time in an order drawn from a seeded {@link Random}. Each
 * simulated thread is a real thread, but it runs only while it holds the baton: it hands the
 * baton back when its task ends or when it waits through a seam ({@link #await}, {@link
 * #sleep}), so the engine's blocking code (a provider call that hangs, recovery waiting for
 * its steps) runs unchanged while other work goes on. When nothing can run, virtual time
 * jumps to the next timer or wake-up. Same seed, same steps: the same run.
 *
 * <p>One {@link Runtime} per world holds the time, the random source and the run loop; each
 * simulated process (an agent, a CLI) has its own {@link SimScheduler} on it, with its own
 * pools. {@link #kill} is SIGKILL: the process's queued work is dropped, its timers never
 * fire, and its waiting threads end with {@link Killed} the next time they would run (their
 * code past that point never runs; seams refuse a killed process).
 */
public final class SimScheduler implements Scheduler {
  /** Thrown in a killed process's threads, at the seam where they were waiting. */
  public static final class Killed extends Error {
    private static final long serialVersionUID = 1L;

    Killed(String process) {
      super(process + " was killed", null, false, false);
    }
  }

  /** The world's time, random source and run loop, shared by its processes. */
  public static final class Runtime {
    private final Random random;
    private long nowNanos = 1_000_000_000L;
    private final long wallBaseMs = 1_800_000_000_000L;
    /** Work that can run now or when its time comes: starts of tasks, timers, waiting threads. */
    private final List<Item> items = new ArrayList<>();
    private final Semaphore loop = new Semaphore(0);
    private final Deque<Worker> idle = new ArrayDeque<>();
    private Worker running;
    private Throwable failure;
    private long steps;
    private final List<SimScheduler> processes = new ArrayList<>();
    private final List<Worker> all = new ArrayList<>();

    public Runtime(long seed) {
      this.random = new Random(seed);
    }

    public Random random() {
      return random;
    }

    public long nanoTime() {
      return nowNanos;
    }

    public long currentTimeMillis() {
      return wallBaseMs + nowNanos / 1_000_000L;
    }

    /** Moves virtual time on by {@code d} (the world's own clock between steps), running what falls due. */
    public void advance(Duration d) {
      runUntil(nowNanos + d.toNanos());
    }

    /** Runs until nothing can run before {@code untilNanos}; time then stands at {@code untilNanos}. */
    void runUntil(long untilNanos) {
      while (true) {
        List<Item> ready = new ArrayList<>();
        long next = Long.MAX_VALUE;
        for (Item i : items) {
          long at = i.readyAt();
          if (at <= nowNanos) {
            ready.add(i);
          } else {
            next = Math.min(next, at);
          }
        }
        if (ready.isEmpty()) {
          if (next > untilNanos) {
            nowNanos = Math.max(nowNanos, untilNanos);
            return;
          }
          nowNanos = next;
          continue;
        }
        Item pick = ready.get(random.nextInt(ready.size()));
        items.remove(pick);
        steps++;
        pick.run();
        if (failure != null) {
          Throwable f = failure;
          failure = null;
          if (f instanceof RuntimeException r) {
            throw r;
          }
          if (f instanceof Error e) {
            throw e;
          }
          throw new IllegalStateException(f);
        }
      }
    }

    /** Runs until nothing more can run without time passing further than {@code max}. */
    public void runFor(Duration max) {
      runUntil(nowNanos + max.toNanos());
    }

    /** Work items run so far (for the tries' statistics). */
    public long steps() {
      return steps;
    }

    /** Runs the item's thread until it hands the baton back. */
    void resume(Worker w) {
      running = w;
      w.baton.release();
      try {
        if (!loop.tryAcquire(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("simulated thread " + w.name + " neither ended nor waited through a seam for "
              + "60 s of real time: it blocks outside the simulation (a lock, a join, I/O)");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      running = null;
    }

    Worker worker() {
      Worker w = idle.poll();
      if (w == null) {
        w = new Worker(this);
        all.add(w);
      }
      return w;
    }

    /**
     * Ends the world: every process is killed, their waiting threads end at their seams, and
     * the real threads behind the simulated ones stop (a try leaves no thread behind).
     */
    public void close() {
      for (SimScheduler p : processes) {
        p.kill();
      }
      for (Item i : new ArrayList<>(items)) {
        items.remove(i);
        i.run();
      }
      items.clear();
      for (Worker w : all) {
        w.stop = true;
        w.baton.release();
      }
    }
  }

  /** Something the loop can run: a task to start, a timer, or a waiting thread. */
  private interface Item {
    long readyAt();

    void run();
  }

  /** A real thread that runs simulated threads' tasks, one at a time, while it holds its baton. */
  static final class Worker {
    final Runtime rt;
    final Semaphore baton = new Semaphore(0);
    final Thread thread;
    String name = "sim";
    Runnable task;
    SimScheduler owner;
    volatile boolean stop;

    Worker(Runtime rt) {
      this.rt = rt;
      this.thread = new Thread(this::loop, "sim-worker");
      thread.setDaemon(true);
      thread.start();
    }

    private void loop() {
      while (true) {
        baton.acquireUninterruptibly();
        if (stop) {
          return;
        }
        Runnable t = task;
        SimScheduler o = owner;
        try {
          t.run();
        } catch (Killed k) {
          // the process died here: nothing after this point ran
        } catch (Throwable e) {
          if (o == null || o.alive) {
            rt.failure = e;
          }
        }
        task = null;
        Thread.interrupted();
        if (o != null) {
          o.threadEnded(this);
        }
        rt.idle.push(this);
        rt.loop.release();
      }
    }

    /** Hands the baton back until {@code ready} holds (checked by the loop), then goes on. */
    void park(long readyAtNanos, BooleanSupplier ready) {
      SimScheduler o = owner;
      Worker self = this;
      rt.items.add(new Item() {
        @Override
        public long readyAt() {
          if (!o.alive) {
            return rt.nowNanos; // it ends (Killed) as soon as it runs
          }
          return ready.getAsBoolean() ? Math.max(rt.nowNanos, readyAtNanos) : Long.MAX_VALUE - 1;
        }

        @Override
        public void run() {
          rt.resume(self);
        }
      });
      rt.loop.release();
      baton.acquireUninterruptibly();
      if (!o.alive) {
        throw new Killed(o.process);
      }
    }
  }

  /** A pool of this process: at most {@code threads} of its tasks run (or wait) at once. */
  private final class Pool implements Executor {
    final String name;
    final int threads;
    int busy;
    final Deque<Runnable> queue = new ArrayDeque<>();

    Pool(String name, int threads) {
      this.name = name;
      this.threads = threads;
    }

    @Override
    public void execute(Runnable r) {
      if (!alive || closed) {
        throw new RejectedExecutionException(process + (alive ? " is shutting down" : " was killed"));
      }
      queue.add(r);
      offer();
    }

    /** Turns queued tasks into items while threads are free. */
    void offer() {
      while (busy < threads && !queue.isEmpty()) {
        busy++;
        Runnable r = queue.poll();
        startItem(name, r, this);
      }
    }
  }

  private final Runtime rt;
  private final String process;
  private final Map<String, Pool> pools = new HashMap<>();
  private final Map<Worker, Pool> onPool = new HashMap<>();
  private volatile boolean alive = true;
  private boolean closed;

  /** A process on {@code rt}, named for messages ("agent", "cli"). */
  public SimScheduler(Runtime rt, String process) {
    this.rt = rt;
    this.process = process;
    rt.processes.add(this);
  }

  public Runtime runtime() {
    return rt;
  }

  public boolean alive() {
    return alive;
  }

  /** SIGKILL: nothing of this process runs any more past the seam it waits at. */
  public void kill() {
    alive = false;
    for (Pool p : pools.values()) {
      p.queue.clear();
    }
  }

  /** Throws {@link Killed} when this process was killed (seams call it before they act). */
  public void check() {
    if (!alive) {
      throw new Killed(process);
    }
  }

  private void startItem(String name, Runnable r, Pool pool) {
    long at = rt.nowNanos;
    rt.items.add(new Item() {
      @Override
      public long readyAt() {
        return at;
      }

      @Override
      public void run() {
        if (!alive) {
          if (pool != null) {
            pool.busy--;
          }
          return;
        }
        Worker w = rt.worker();
        w.name = process + "/" + name;
        w.task = r;
        w.owner = SimScheduler.this;
        if (pool != null) {
          onPool.put(w, pool);
        }
        rt.resume(w);
      }
    });
  }

  void threadEnded(Worker w) {
    Pool p = onPool.remove(w);
    if (p != null) {
      p.busy--;
      if (alive) {
        p.offer();
      }
    }
  }

  @Override
  public long nanoTime() {
    return rt.nowNanos;
  }

  @Override
  public long currentTimeMillis() {
    return rt.currentTimeMillis();
  }

  @Override
  public Executor pool(String name, int threads, boolean interruptOnClose) {
    check();
    return pools.computeIfAbsent(name, n -> new Pool(n, threads));
  }

  @Override
  public Cancellable schedule(Duration delay, Runnable task) {
    check();
    long at = rt.nowNanos + delay.toNanos();
    boolean[] cancelled = {false};
    rt.items.add(new Item() {
      @Override
      public long readyAt() {
        return cancelled[0] || !alive ? rt.nowNanos : at;
      }

      @Override
      public void run() {
        if (!cancelled[0] && alive && !closed) {
          startItem("timer", task, null);
        }
      }
    });
    return () -> cancelled[0] = true;
  }

  @Override
  public Cancellable repeat(Duration period, Runnable task) {
    boolean[] cancelled = {false};
    Runnable[] tick = new Runnable[1];
    tick[0] = () -> {
      if (!cancelled[0]) {
        try {
          task.run();
        } finally {
          if (!cancelled[0] && alive && !closed) {
            schedule(period, tick[0]);
          }
        }
      }
    };
    schedule(period, tick[0]);
    return () -> cancelled[0] = true;
  }

  @Override
  public void start(String name, Runnable body) {
    check();
    startItem(name, body, null);
  }

  /** Runs {@code body} on a thread of this process (how a test step calls into the engine). */
  public void run(String name, Runnable body) {
    start(name, body);
  }

  @Override
  public <T> T await(CompletableFuture<T> f) {
    Worker w = current();
    if (!f.isDone()) {
      w.park(0, f::isDone);
    }
    check();
    return f.join();
  }

  /** Waits {@code d} of virtual time on the current simulated thread (a provider that takes long or hangs). */
  public void sleep(Duration d) {
    Worker w = current();
    long at = rt.nowNanos + d.toNanos();
    w.park(at, () -> true);
    check();
  }

  private Worker current() {
    Worker w = rt.running;
    if (w == null || w.thread != Thread.currentThread()) {
      throw new IllegalStateException("a simulated wait outside a simulated thread (" + Thread.currentThread().getName() + ")");
    }
    return w;
  }

  @Override
  public void close() {
    closed = true;
    for (Pool p : pools.values()) {
      p.queue.clear();
    }
  }
}
