package org.dvdi.core.seams;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.dvdi.spi.DvdiException;

/**
 * {@link Scheduler} on real threads: daemon threads named after their pool, which end after
 * a minute idle; one timer thread; the machine's clocks.
 */
final class RealScheduler implements Scheduler {
  /** How long {@link #close} lets the pools that finish their work do so. */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

  private final Map<String, RealPool> pools = new ConcurrentHashMap<>();
  private final Map<String, Boolean> interruptOnClose = new ConcurrentHashMap<>();
  private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(daemon("dvdi-timer"));
  private volatile boolean closed;

  static ThreadFactory daemon(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  @Override
  public long currentTimeMillis() {
    return System.currentTimeMillis();
  }

  @Override
  public Pool pool(String name, int threads, boolean interrupt) {
    if (closed) {
      throw DvdiException.internal("dvdi is shutting down", null);
    }
    return pools.computeIfAbsent(name, n -> {
      interruptOnClose.put(n, interrupt);
      ThreadPoolExecutor p = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
          daemon(n));
      p.allowCoreThreadTimeOut(true);
      return new RealPool(p);
    });
  }

  /** A {@link ThreadPoolExecutor} whose size follows the threads lent. */
  private static final class RealPool implements Pool {
    final ThreadPoolExecutor p;

    RealPool(ThreadPoolExecutor p) {
      this.p = p;
    }

    @Override
    public void execute(Runnable r) {
      p.execute(r);
    }

    @Override
    public synchronized void lend() {
      p.setMaximumPoolSize(p.getMaximumPoolSize() + 1);
      p.setCorePoolSize(p.getCorePoolSize() + 1);
    }

    @Override
    public synchronized void giveBack() {
      p.setCorePoolSize(p.getCorePoolSize() - 1);
      p.setMaximumPoolSize(p.getMaximumPoolSize() - 1);
    }
  }

  @Override
  public Cancellable schedule(Duration delay, Runnable task) {
    ScheduledFuture<?> f = timers.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
    return () -> f.cancel(false);
  }

  @Override
  public Cancellable repeat(Duration period, Runnable task) {
    ScheduledFuture<?> f = timers.scheduleWithFixedDelay(task, period.toNanos(), period.toNanos(), TimeUnit.NANOSECONDS);
    return () -> f.cancel(false);
  }

  @Override
  public void start(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
  }

  @Override
  public <T> T await(CompletableFuture<T> f) {
    return f.join();
  }

  @Override
  public void close() {
    closed = true;
    timers.shutdownNow();
    pools.forEach((n, p) -> {
      if (interruptOnClose.get(n)) {
        p.p.shutdownNow();
      } else {
        p.p.shutdown();
      }
    });
    long until = System.nanoTime() + CLOSE_WAIT.toNanos();
    try {
      for (Map.Entry<String, RealPool> p : pools.entrySet()) {
        if (!interruptOnClose.get(p.getKey())) {
          p.getValue().p.awaitTermination(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
