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
 * baton on when it waits through a seam ({@link #await}, {@link #sleep}), so the engine's
 * blocking code (a provider call that hangs, recovery waiting for its steps) runs unchanged
 * while other work goes on. When nothing can run, virtual time jumps to the next timer or
 * wake-up. Same seed, same steps: the same run.
 *
 * <p>There is no scheduling thread: whichever thread holds the baton picks what runs next. A
 * task that starts while a thread is between tasks runs on that thread at once; a real switch
 * of threads happens only when a thread waits or a waiting one goes on (most tasks never wait,
 * and a switch costs far more than they do).
 *
 * <p>One {@link Runtime} per world holds the time, the random source and the work; each
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

  /** What an item needs: run by whoever holds the baton, a thread for a task, or a waiting thread's baton. */
  private enum Kind { BOOKKEEPING, TASK, RESUME }

  /** Something that can run now or when its time comes. */
  private abstract static class Item {
    final Kind kind;

    Item(Kind kind) {
      this.kind = kind;
    }

    /** When it can run (virtual nanos); {@link Long#MAX_VALUE} - 1 while it waits for something else. */
    abstract long readyAt();
  }

  /** The world's time, random source and work, shared by its processes. */
  public static final class Runtime {
    private final Random random;
    private long nowNanos = 1_000_000_000L;
    private final long wallBaseMs = 1_800_000_000_000L;
    private final List<Item> items = new ArrayList<>();
    private final Semaphore driver = new Semaphore(0);
    private final Deque<Worker> idle = new ArrayDeque<>();
    private final List<Worker> all = new ArrayList<>();
    private final List<SimScheduler> processes = new ArrayList<>();
    private Worker running;
    private long untilNanos;
    private Throwable failure;
    private long steps;

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

    /** Moves virtual time on by {@code d}, running what falls due. */
    public void advance(Duration d) {
      runUntil(nowNanos + d.toNanos());
    }

    /** Runs until nothing more can run without time passing further than {@code max}. */
    public void runFor(Duration max) {
      runUntil(nowNanos + max.toNanos());
    }

    /** Work items run so far. */
    public long steps() {
      return steps;
    }

    /** Runs until nothing can run before {@code until}; time then stands at {@code until}. */
    void runUntil(long until) {
      untilNanos = until;
      if (drive(null)) {
        try {
          if (!driver.tryAcquire(60, TimeUnit.SECONDS)) {
            Worker w = running;
            throw new IllegalStateException("simulated thread " + (w == null ? "?" : w.name) + " neither ended nor "
                + "waited through a seam for 60 s of real time: it blocks outside the simulation (a lock, a join, I/O)");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
        }
      }
      nowNanos = Math.max(nowNanos, until);
      Throwable f = failure;
      failure = null;
      if (f instanceof RuntimeException r) {
        throw r;
      }
      if (f instanceof Error e) {
        throw e;
      }
      if (f != null) {
        throw new IllegalStateException(f);
      }
    }

    /** The next item that can run before {@link #untilNanos} (time moves to it), or null. */
    private Item next() {
      if (failure != null) {
        return null;
      }
      while (true) {
        List<Item> ready = new ArrayList<>();
        long soonest = Long.MAX_VALUE;
        for (Item i : items) {
          long at = i.readyAt();
          if (at <= nowNanos) {
            ready.add(i);
          } else {
            soonest = Math.min(soonest, at);
          }
        }
        if (!ready.isEmpty()) {
          Item pick = ready.get(random.nextInt(ready.size()));
          items.remove(pick);
          steps++;
          return pick;
        }
        if (soonest > untilNanos) {
          return null;
        }
        nowNanos = soonest;
      }
    }

    /**
     * Runs items as the baton holder {@code me} (null: the test's own thread, which runs no
     * task itself; {@code me.task != null}: a thread in the middle of a task, which has just
     * begun to wait). Returns true when the baton went to another thread, false when nothing
     * is left to run before {@link #untilNanos}.
     */
    private boolean drive(Worker me) {
      while (true) {
        Item it = next();
        if (it == null) {
          return false;
        }
        switch (it.kind) {
          case BOOKKEEPING -> ((Bookkeeping) it).body.run();
          case TASK -> {
            TaskItem t = (TaskItem) it;
            if (!t.owner.alive) {
              t.dropped();
            } else if (me != null && me.task == null) {
              me.runTask(t); // between tasks: this thread runs it at once
            } else {
              Worker w = idle.poll();
              if (w == null) {
                w = new Worker(this);
                all.add(w);
              }
              w.assigned = t;
              handOff(me, w);
              return true;
            }
          }
          case RESUME -> {
            handOff(me, ((Resume) it).worker);
            return true;
          }
          default -> throw new IllegalStateException();
        }
      }
    }

    /**
     * Gives the baton to {@code w}. A worker between tasks becomes idle first (before the
     * other thread runs, which may take it from the idle list).
     */
    private void handOff(Worker me, Worker w) {
      if (me != null && me.task == null) {
        idle.push(me);
      }
      running = w;
      w.baton.release();
    }

    /** Nothing is left to run before the limit: the baton goes back to the test's thread. */
    private void backToDriver(Worker me) {
      if (me.task == null) {
        idle.push(me);
      }
      running = null;
      driver.release();
    }

    /**
     * Ends the world: every process is killed, their waiting threads end at their seams, and
     * the real threads behind the simulated ones stop (a try leaves no thread behind).
     */
    public void close() {
      for (SimScheduler p : processes) {
        p.kill();
      }
      failure = null;
      runUntil(Long.MAX_VALUE - 2);
      items.clear();
      for (Worker w : all) {
        w.stop = true;
        w.baton.release();
      }
    }
  }

  private static class Bookkeeping extends Item {
    final long at;
    final Runnable body;

    Bookkeeping(long at, Runnable body) {
      super(Kind.BOOKKEEPING);
      this.at = at;
      this.body = body;
    }

    @Override
    long readyAt() {
      return at;
    }
  }

  private final class TaskItem extends Item {
    final SimScheduler owner = SimScheduler.this;
    final String name;
    final Runnable body;
    final Pool pool;
    final long at;

    TaskItem(String name, Runnable body, Pool pool, long at) {
      super(Kind.TASK);
      this.name = name;
      this.body = body;
      this.pool = pool;
      this.at = at;
    }

    @Override
    long readyAt() {
      return at;
    }

    void dropped() {
      if (pool != null) {
        pool.busy--;
      }
    }

    void ended() {
      if (pool != null) {
        pool.busy--;
        if (alive) {
          pool.offer();
        }
      }
    }
  }

  private static final class Resume extends Item {
    final Worker worker;
    final SimScheduler owner;
    final long at;
    final BooleanSupplier ready;

    Resume(Worker worker, SimScheduler owner, long at, BooleanSupplier ready) {
      super(Kind.RESUME);
      this.worker = worker;
      this.owner = owner;
      this.at = at;
      this.ready = ready;
    }

    @Override
    long readyAt() {
      if (!owner.alive) {
        return 0; // it ends (Killed) as soon as it runs
      }
      return ready.getAsBoolean() ? at : Long.MAX_VALUE - 1;
    }
  }

  /** A real thread that runs simulated threads' tasks while it holds its baton. */
  static final class Worker {
    final Runtime rt;
    final Semaphore baton = new Semaphore(0);
    final Thread thread;
    volatile boolean stop;
    String name = "sim";
    /** The task handed to it by another thread. */
    TaskItem assigned;
    /** The task it runs now, or null between tasks. */
    TaskItem task;

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
        TaskItem t = assigned;
        assigned = null;
        runTask(t);
        if (!rt.drive(this)) {
          rt.backToDriver(this);
        }
        // either way this thread is idle now, until it is handed a task again
      }
    }

    void runTask(TaskItem t) {
      task = t;
      name = t.owner.process + "/" + t.name;
      rt.running = this;
      try {
        t.body.run();
      } catch (Killed k) {
        // the process died here: nothing after this point ran
      } catch (Throwable e) {
        if (t.owner.alive) {
          rt.failure = e;
        }
      }
      Thread.interrupted();
      task = null;
      t.ended();
    }

    /** Hands the baton on until {@code ready} holds and {@code atNanos} has come, then goes on. */
    void park(SimScheduler owner, long atNanos, BooleanSupplier ready) {
      rt.items.add(new Resume(this, owner, atNanos, ready));
      if (!rt.drive(this)) {
        rt.backToDriver(this);
      }
      baton.acquireUninterruptibly();
      rt.running = this;
      if (!owner.alive) {
        throw new Killed(owner.process);
      }
    }
  }

  /** A pool of this process: at most {@code threads} of its tasks run (or wait) at once. */
  private final class Pool implements Scheduler.Pool {
    final String name;
    int threads;
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

    @Override
    public void lend() {
      threads++;
      offer();
    }

    @Override
    public void giveBack() {
      threads--;
    }

    void offer() {
      while (busy < threads && !queue.isEmpty()) {
        busy++;
        rt.items.add(new TaskItem(name, queue.poll(), this, rt.nowNanos));
      }
    }
  }

  private final Runtime rt;
  private final String process;
  private final Map<String, Pool> pools = new HashMap<>();
  private volatile boolean alive = true;
  private boolean closed;

  /** A process on {@code rt}, named for messages ("agent-1", "cli-2"). */
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

  @Override
  public long nanoTime() {
    return rt.nowNanos;
  }

  @Override
  public long currentTimeMillis() {
    return rt.currentTimeMillis();
  }

  @Override
  public Scheduler.Pool pool(String name, int threads, boolean interruptOnClose) {
    check();
    return pools.computeIfAbsent(name, n -> new Pool(n, threads));
  }

  @Override
  public Cancellable schedule(Duration delay, Runnable task) {
    check();
    boolean[] cancelled = {false};
    rt.items.add(new Bookkeeping(rt.nowNanos + delay.toNanos(), () -> {
      if (!cancelled[0] && alive && !closed) {
        rt.items.add(new TaskItem("timer", task, null, rt.nowNanos));
      }
    }) {
      @Override
      long readyAt() {
        return cancelled[0] || !alive ? 0 : super.readyAt();
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
    rt.items.add(new TaskItem(name, body, null, rt.nowNanos));
  }

  /** Runs {@code body} on a thread of this process (how a test step calls into the engine). */
  public void run(String name, Runnable body) {
    start(name, body);
  }

  @Override
  public <T> T await(CompletableFuture<T> f) {
    Worker w = current();
    if (!f.isDone()) {
      w.park(this, 0, f::isDone);
    }
    check();
    return f.join();
  }

  /** Waits {@code d} of virtual time on the current simulated thread (a provider that takes long or hangs). */
  public void sleep(Duration d) {
    Worker w = current();
    w.park(this, rt.nowNanos + d.toNanos(), () -> true);
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
