package org.dvdi.core.seams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** The simulation's scheduler: seeded order, virtual time, waits through seams, bounded pools, SIGKILL. */
class SimSchedulerTest {
  /** Four tasks on two pools, each in two halves around a wait: the order they ran in. */
  static List<String> interleaving(long seed) {
    SimScheduler.Runtime rt = new SimScheduler.Runtime(seed);
    SimScheduler s = new SimScheduler(rt, "p");
    List<String> order = new ArrayList<>();
    try {
      for (int i = 0; i < 4; i++) {
        String n = "t" + i;
        s.pool(i % 2 == 0 ? "a" : "b", 2, false).execute(() -> {
          order.add(n + ".1");
          s.sleep(Duration.ZERO);
          order.add(n + ".2");
        });
      }
      rt.runFor(Duration.ofSeconds(1));
    } finally {
      rt.close();
    }
    return order;
  }

  @Test
  void theSameSeedRunsTheSameOrderAndSeedsDiffer() {
    assertEquals(interleaving(7), interleaving(7));
    Set<List<String>> seen = new HashSet<>();
    for (long seed = 0; seed < 20; seed++) {
      List<String> o = interleaving(seed);
      assertEquals(8, o.size(), o.toString());
      seen.add(o);
    }
    assertTrue(seen.size() > 5, "orders drawn from the seed: " + seen.size());
  }

  @Test
  void timeIsVirtualAndJumpsToTheNextWakeUp() {
    SimScheduler.Runtime rt = new SimScheduler.Runtime(1);
    SimScheduler s = new SimScheduler(rt, "p");
    long[] woke = {0, 0};
    long t0 = rt.nanoTime();
    s.start("sleeper", () -> {
      s.sleep(Duration.ofHours(2));
      woke[0] = rt.nanoTime();
    });
    s.schedule(Duration.ofMinutes(30), () -> woke[1] = rt.nanoTime());
    long real = System.nanoTime();
    rt.runFor(Duration.ofHours(3));
    assertEquals(Duration.ofHours(2).toNanos(), woke[0] - t0);
    assertEquals(Duration.ofMinutes(30).toNanos(), woke[1] - t0);
    assertEquals(Duration.ofHours(3).toNanos(), rt.nanoTime() - t0);
    assertTrue(System.nanoTime() - real < Duration.ofSeconds(5).toNanos(), "three virtual hours take no real time");
    rt.close();
  }

  @Test
  void anAwaitWaitsWhileOtherWorkRunsAndTheFutureIsCompleted() {
    SimScheduler.Runtime rt = new SimScheduler.Runtime(2);
    SimScheduler s = new SimScheduler(rt, "p");
    CompletableFuture<String> f = new CompletableFuture<>();
    String[] got = {null};
    s.start("waiter", () -> got[0] = s.await(f));
    s.schedule(Duration.ofSeconds(10), () -> f.complete("done"));
    rt.runFor(Duration.ofSeconds(5));
    assertEquals(null, got[0], "still waiting after 5 s");
    rt.runFor(Duration.ofSeconds(10));
    assertEquals("done", got[0]);
    rt.close();
  }

  /** A pool of one thread whose task hangs holds back the next task of that pool, not another pool's. */
  @Test
  void aBoundedPoolIsUsedUpByAHangingTask() {
    SimScheduler.Runtime rt = new SimScheduler.Runtime(3);
    SimScheduler s = new SimScheduler(rt, "p");
    Executor one = s.pool("one", 1, true);
    List<String> ran = new ArrayList<>();
    one.execute(() -> {
      ran.add("hang");
      s.sleep(Duration.ofMinutes(10));
    });
    one.execute(() -> ran.add("queued"));
    s.pool("other", 1, false).execute(() -> ran.add("other"));
    rt.runFor(Duration.ofMinutes(1));
    assertEquals(Set.of("hang", "other"), Set.copyOf(ran));
    rt.runFor(Duration.ofMinutes(10));
    assertTrue(ran.contains("queued"));
    rt.close();
  }

  @Test
  void aKilledProcessRunsNothingPastItsWaitNorItsTimersNorItsQueue() {
    SimScheduler.Runtime rt = new SimScheduler.Runtime(4);
    SimScheduler agent = new SimScheduler(rt, "agent");
    SimScheduler cli = new SimScheduler(rt, "cli");
    List<String> ran = new ArrayList<>();
    agent.start("step", () -> {
      ran.add("intent");
      agent.sleep(Duration.ofSeconds(5));
      ran.add("outcome"); // never: killed meanwhile
    });
    agent.schedule(Duration.ofSeconds(8), () -> ran.add("timer"));
    cli.start("cli", () -> {
      cli.sleep(Duration.ofSeconds(1));
      ran.add("cli");
    });
    rt.runFor(Duration.ofSeconds(2));
    agent.kill();
    rt.runFor(Duration.ofSeconds(20));
    assertEquals(List.of("intent", "cli"), ran);
    assertNotEquals(0, rt.steps());
    rt.close();
  }
}
