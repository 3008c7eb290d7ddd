package org.dvdi.core.sim;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The simulated storage behind the simulated providers (an array, a cloud): which volumes
 * exist and which host each is attached to, shared by the world's hosts; and the fault plan
 * that decides how the next provider calls go.
 */
public final class SimStorage {
  /** How a provider call goes. */
  public enum Outcome {
    /** Done. */
    OK,
    /** Fails before doing anything. */
    FAIL,
    /** Does its work, then fails (a partial effect: attached, then the answer is lost). */
    FAIL_AFTER,
    /** Takes twice its step's timeout, then does its work: a late return. */
    LATE,
    /** Hangs for {@link SimStorage#HANG} of virtual time, then does its work. */
    HANG,
    /**
     * Answers TIMEOUT itself at the call's deadline, as a provider that keeps to it does (the
     * Docker plugin provider: its request sent, no answer); the other side may have done the
     * work (half the time, seeded).
     */
    TIMEOUT
  }

  /** How long a hung call hangs: far past every deadline. */
  public static final java.time.Duration HANG = java.time.Duration.ofMinutes(10);

  final Set<String> exists = new TreeSet<>();
  /** volume -> host it is attached to. */
  final Map<String, String> attachedTo = new TreeMap<>();
  /** volume -> hosts that attached it while another had it (two writers). */
  final Map<String, Set<String>> writers = new TreeMap<>();
  private final Deque<Outcome> plan = new ArrayDeque<>();

  /** The next calls go as {@code outcomes} say, then OK. */
  public void plan(List<Outcome> outcomes) {
    plan.clear();
    plan.addAll(outcomes);
  }

  Outcome next() {
    Outcome o = plan.poll();
    return o == null ? Outcome.OK : o;
  }

  public Set<String> existing() {
    return Set.copyOf(exists);
  }

  public Map<String, String> attachments() {
    return Map.copyOf(attachedTo);
  }
}
