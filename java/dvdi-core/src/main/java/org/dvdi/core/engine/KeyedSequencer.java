package org.dvdi.core.engine;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * Runs tasks one at a time per key, in submission order, and tasks of different keys in
 * parallel (like one {@code process::Sequence} per volume in Mesos's docker/volume isolator).
 * Each key's tasks run on the executor {@code executorOf} gives for it (a volume's on its
 * provider's pool).
 */
final class KeyedSequencer<K> {
  private final ConcurrentHashMap<K, CompletableFuture<Void>> tails = new ConcurrentHashMap<>();
  private final Function<K, Executor> executorOf;

  KeyedSequencer(Function<K, Executor> executorOf) {
    this.executorOf = executorOf;
  }

  <T> CompletableFuture<T> submit(K key, Callable<T> body) {
    CompletableFuture<T> result = new CompletableFuture<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    CompletableFuture<Void> prev = tails.put(key, done);
    Runnable run = () -> {
      try {
        result.complete(body.call());
      } catch (Throwable t) {
        result.completeExceptionally(t);
      } finally {
        done.complete(null);
        tails.remove(key, done);
      }
    };
    Runnable start = () -> {
      try {
        executorOf.apply(key).execute(run);
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
        done.complete(null);
        tails.remove(key, done);
      }
    };
    if (prev == null) {
      start.run();
    } else {
      prev.whenComplete((x, e) -> start.run());
    }
    return result;
  }

  /** True when nothing runs or waits for {@code key}. */
  boolean idle(K key) {
    return !tails.containsKey(key);
  }
}
