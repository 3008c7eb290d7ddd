package org.dvdi.core.engine;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs tasks one at a time per key, in submission order, and tasks of different keys in
 * parallel (like one {@code process::Sequence} per volume in Mesos's docker/volume isolator).
 */
final class KeyedSequencer<K> {
  private final ConcurrentHashMap<K, CompletableFuture<Void>> tails = new ConcurrentHashMap<>();
  private final Executor executor;

  KeyedSequencer(Executor executor) {
    this.executor = executor;
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
        executor.execute(run);
      } catch (RejectedExecutionException e) {
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
