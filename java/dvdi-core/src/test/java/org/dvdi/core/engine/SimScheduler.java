package org.dvdi.core.engine;

import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.dvdi.core.state.VolumeKey;

/**
 * A deterministic stand-in for the engine's threads: tasks on a volume's lane (one per
 * process and volume, in order, as {@link KeyedSequencer}) and control tasks (any order), run
 * one at a time in an order drawn from a seeded {@link Random}. A provider call that passes
 * its deadline {@link #yieldOthers yields}: other runnable tasks run before the late call
 * returns, as they would while the lane's thread is blocked in the provider.
 */
final class SimScheduler {
  private record Task(SimDvdi process, Object lane, Runnable body) {}

  private final List<Task> control = new ArrayList<>();
  private final Map<Object, Deque<Task>> lanes = new LinkedHashMap<>();
  private final Set<Object> busy = new HashSet<>();
  private final Random random;
  private final Consumer<SimHost.Crash> onCrash;
  private int depth;

  SimScheduler(long seed, Consumer<SimHost.Crash> onCrash) {
    this.random = new Random(seed);
    this.onCrash = onCrash;
  }

  Random random() {
    return random;
  }

  void control(SimDvdi p, Runnable body) {
    control.add(new Task(p, null, body));
  }

  private static Object lane(SimDvdi p, VolumeKey key) {
    return List.of(p, key);
  }

  /** As {@link KeyedSequencer#submit}: runs after every earlier task on {@code key}'s lane of {@code p}. */
  <T> CompletableFuture<T> lane(SimDvdi p, VolumeKey key, Callable<T> body) {
    CompletableFuture<T> f = new CompletableFuture<>();
    lanes.computeIfAbsent(lane(p, key), k -> new ArrayDeque<>()).add(new Task(p, lane(p, key), () -> {
      T r;
      try {
        r = body.call();
      } catch (RuntimeException e) {
        f.completeExceptionally(e);
        return;
      } catch (Exception e) {
        f.completeExceptionally(e);
        return;
      }
      f.complete(r);
    }));
    return f;
  }

  boolean idle(SimDvdi p, VolumeKey key) {
    Deque<Task> q = lanes.get(lane(p, key));
    return !busy.contains(lane(p, key)) && (q == null || q.isEmpty());
  }

  boolean pending() {
    if (!control.isEmpty()) {
      return true;
    }
    for (Deque<Task> q : lanes.values()) {
      if (!q.isEmpty()) {
        return true;
      }
    }
    return false;
  }

  /** Forgets every task of a process that died. */
  void drop(SimDvdi p) {
    control.removeIf(t -> t.process == p);
    for (Deque<Task> q : lanes.values()) {
      q.removeIf(t -> t.process == p);
    }
    busy.removeIf(l -> ((List<?>) l).get(0) == p);
  }

  /** Runs one runnable task (chosen at random); false when there is none. */
  boolean runOne() {
    List<Object> choices = new ArrayList<>(control);
    for (Map.Entry<Object, Deque<Task>> e : lanes.entrySet()) {
      if (!e.getValue().isEmpty() && !busy.contains(e.getKey())) {
        choices.add(e.getKey());
      }
    }
    if (choices.isEmpty()) {
      return false;
    }
    Object c = choices.get(random.nextInt(choices.size()));
    Task t;
    if (c instanceof Task ct) {
      control.remove(ct);
      t = ct;
    } else {
      t = lanes.get(c).poll();
      busy.add(c);
    }
    try {
      t.body.run();
    } finally {
      if (t.lane != null) {
        busy.remove(t.lane);
      }
    }
    return true;
  }

  /** Runs until nothing is left; a process killed on the way is handed to the crash handler. */
  void drain() {
    drainUntil(() -> false);
  }

  /** Runs until {@code done} holds or nothing is left. */
  void drainUntil(java.util.function.BooleanSupplier done) {
    int n = 0;
    while (!done.getAsBoolean()) {
      try {
        if (!runOne()) {
          return;
        }
      } catch (SimHost.Crash c) {
        onCrash.accept(c);
      }
      if (++n > 100_000) {
        throw new AssertionError("the simulation does not settle: more than 100000 tasks");
      }
    }
  }

  /** Runs at most {@code k} tasks. */
  void runSome(int k) {
    for (int i = 0; i < k; i++) {
      try {
        if (!runOne()) {
          return;
        }
      } catch (SimHost.Crash c) {
        onCrash.accept(c);
      }
    }
  }

  /**
   * The lane of {@code me} is blocked in a provider call past its deadline: up to a few other
   * tasks run meanwhile. Another process killed meanwhile is handed to the crash handler;
   * {@code me}'s own death unwinds this call too.
   */
  void yieldOthers(SimDvdi me) {
    if (depth >= 3) {
      return;
    }
    depth++;
    try {
      int k = random.nextInt(4);
      for (int i = 0; i < k; i++) {
        try {
          if (!runOne()) {
            return;
          }
        } catch (SimHost.Crash c) {
          if (c.process == me) {
            throw c;
          }
          onCrash.accept(c);
          if (!me.alive()) {
            throw new SimHost.Crash(me, "a yield (its process was killed meanwhile)");
          }
        }
      }
    } finally {
      depth--;
    }
  }
}
