package org.dvdi.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentSkipListMap;
import org.junit.jupiter.api.Test;

/** The tries runner: same seeds each run, a failing try shortened and reported with its replay line. */
class SeededTriesTest {
  static List<Integer> draw(Random r) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0, n = 20 + r.nextInt(30); i < n; i++) {
      out.add(r.nextInt(10));
    }
    return out;
  }

  /** Fails when a 3 comes before a 7 (some steps must stay, in order; the rest can go). */
  static void threeThenSeven(List<Integer> steps, long seed) {
    int three = steps.indexOf(3);
    if (three >= 0 && steps.subList(three, steps.size()).contains(7)) {
      throw new IllegalStateException("3 before 7");
    }
  }

  @Test
  void aFailingTryIsShortenedToWhatFailsAndNamesTheSeedThatReplaysIt() {
    SeededTries<Integer> t = new SeededTries<>("CMD", SeededTriesTest::draw, SeededTriesTest::threeThenSeven);
    AssertionError e = assertThrows(AssertionError.class, () -> t.check(100));
    String m = e.getMessage();
    assertTrue(m.contains("shortest failing steps (2 of "), m);
    assertTrue(m.contains(": [3, 7]"), m);
    long seed = Long.parseLong(m.substring(m.indexOf("-Ddvdi.sim.seed=") + 16, m.indexOf('\n', m.indexOf("replay:"))));
    assertTrue(m.contains("replay: CMD -Ddvdi.sim.seed=" + seed), m);
    // the seed gives the same steps again, and they fail
    assertThrows(IllegalStateException.class, () -> threeThenSeven(draw(new Random(seed)), seed));
  }

  @Test
  void triesDrawTheSameStepsEachRun() {
    // tries run on several threads, in any order: keep each try's steps under its seed
    Map<Long, List<Integer>> a = new ConcurrentSkipListMap<>();
    Map<Long, List<Integer>> b = new ConcurrentSkipListMap<>();
    new SeededTries<Integer>("CMD", SeededTriesTest::draw, (s, seed) -> a.put(seed, s)).check(50);
    new SeededTries<Integer>("CMD", SeededTriesTest::draw, (s, seed) -> b.put(seed, s)).check(50);
    assertEquals(50, a.size());
    assertEquals(a, b);
    assertTrue(a.values().stream().distinct().count() > 40, "tries differ from each other");
  }

  @Test
  void theMinimiserKeepsAFailureOfTheSameKindOnly() {
    SeededTries<Integer> t = new SeededTries<>("CMD", SeededTriesTest::draw, (steps, seed) -> {
      if (steps.size() < 5) {
        throw new AssertionError("too short"); // another failure: the minimiser must not go there
      }
      threeThenSeven(steps, seed);
    });
    List<Integer> m = t.minimise(List.of(1, 3, 2, 2, 7, 5, 6, 8, 9), 1L, IllegalStateException.class);
    assertEquals(5, m.size(), m.toString());
    assertTrue(m.indexOf(3) >= 0 && m.indexOf(7) > m.indexOf(3), m.toString());
  }
}
