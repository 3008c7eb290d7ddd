package org.dvdi.core.engine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import org.dvdi.core.state.SimStateStore;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;

/**
 * One simulated host for {@link MountTableModelTest}: the shared state, the provider and
 * kernel, the agent's dvdi (a new one after each crash), the CLI's, and the simple model of
 * what should hold: which containers are live and which volumes each holds, which volumes an
 * operator mounted, which mounts the kernel lost behind dvdi's back.
 */
final class SimWorld implements SimDvdi.World {
  static final String BOOT = "boot-1";

  // ---- the simulated host
  private final SimStateStore state;
  private final SimHost host;
  private final SimScheduler scheduler;
  private final Path disk;
  private long now = 1_000_000;
  private int pids;
  private final Set<String> alive = new HashSet<>();
  SimDvdi agent;
  /** What a CLI process killed mid-command leaves the model believing; null when no CLI runs. */
  private Runnable onCliDeath;
  /** Every action, call and outcome, for a failure's report. */
  final List<String> log;

  // ---- the model
  /** Live containers of the agent (prepared, not cleaned up): the volumes each holds. */
  final Map<String, Set<VolumeKey>> live = new TreeMap<>();
  /** Containers whose prepare ended (either way), which Mesos may clean up. */
  final Set<String> ended = new TreeSet<>();
  /** What each successful prepare handed to its container, and the count of forced releases of each then. */
  final Map<String, Map<VolumeKey, Integer>> handed = new TreeMap<>();
  /** Volumes an operator mounted ({@code dvdi mount}) and has not unmounted or released. */
  final Set<VolumeKey> pins = new TreeSet<>();
  private int containers;
  /** The agent's recovery has finished (Mesos prepares and cleans up nothing before). */
  private boolean recovered;
  /** Forced releases begun, per volume (a forced release takes the volume away from its users). */
  private final Map<VolumeKey, Integer> forced = new TreeMap<>();

  SimWorld(long seed, Path disk) {
    this.log = new ArrayList<>();
    this.state = new SimStateStore();
    this.host = new SimHost(log);
    this.scheduler = new SimScheduler(seed, this::crashed);
    this.disk = disk;
    this.agent = newAgent();
    this.agent.recover(Set.of(), Set.of()).thenRun(() -> recovered = true);
    scheduler.drain();
  }

  private SimWorld(SimWorld o) {
    this.log = new ArrayList<>(o.log);
    this.state = o.state.copy();
    this.host = o.host.copy(log);
    this.scheduler = new SimScheduler(o.scheduler.random().nextLong(), this::crashed);
    this.disk = o.disk;
    this.now = o.now;
    this.pids = o.pids;
    this.alive.addAll(o.alive);
    this.agent = o.agent.copyInto(this);
    o.live.forEach((k, v) -> live.put(k, new TreeSet<>(v)));
    this.ended.addAll(o.ended);
    this.pins.addAll(o.pins);
    this.containers = o.containers;
    this.recovered = o.recovered;
    this.forced.putAll(o.forced);
    o.handed.forEach((k, v) -> handed.put(k, new TreeMap<>(v)));
  }

  @Override
  public SimStateStore state() {
    return state;
  }

  @Override
  public SimHost host() {
    return host;
  }

  @Override
  public SimScheduler scheduler() {
    return scheduler;
  }

  @Override
  public long nowMs() {
    return now;
  }

  @Override
  public String bootId() {
    return BOOT;
  }

  @Override
  public boolean alive(String owner) {
    return alive.contains(owner);
  }

  static VolumeKey vol(int i) {
    return new VolumeKey(SimDvdi.DRIVER, "v" + i);
  }

  private SimDvdi newAgent() {
    SimDvdi a = new SimDvdi(this, "agent:" + (++pids) + ":" + BOOT);
    alive.add(a.owner);
    return a;
  }

  // ------------------------------------------------------------------ actions

  void advance(long ms) {
    now += ms;
  }

  /** Mesos prepares a new container with these volumes. */
  void prepare(List<VolumeKey> vols, boolean overlap) {
    awaitRecovery();
    String cid = "c" + (++containers);
    log.add("prepare " + cid + " " + vols + (overlap ? " (overlapping the next action)" : ""));
    SimDvdi a = agent;
    Map<VolumeKey, Integer> lossesBefore = new TreeMap<>(host.losses);
    a.prepare(cid, vols).whenComplete((paths, e) -> inCallback(() -> {
      if (!a.alive()) {
        return; // the answer never reached Mesos
      }
      ended.add(cid);
      if (e != null) {
        log.add("  prepare " + cid + " failed: " + e.getMessage());
        return;
      }
      for (Map.Entry<VolumeKey, String> p : paths.entrySet()) {
        check(SimHost.device(p.getKey()).equals(host.mounts.get(p.getValue())), "prepare of " + cid + " hands "
            + p.getValue() + " (" + p.getKey() + ") to the container, but the kernel has "
            + host.mounts.get(p.getValue()) + " there: the container is bound to an unmounted path");
      }
      log.add("  prepare " + cid + " done");
      Map<VolumeKey, Integer> h = new TreeMap<>();
      vols.forEach(k -> h.put(k, forced.getOrDefault(k, 0)));
      handed.put(cid, h);
      live.put(cid, new TreeSet<>(vols));
    }));
    settle(overlap);
  }

  /** Mesos cleans up a container whose prepare ended (the pick is taken modulo their number). */
  void cleanup(int pick, boolean overlap) {
    awaitRecovery();
    List<String> known = new ArrayList<>(ended);
    if (known.isEmpty()) {
      return;
    }
    String cid = known.get(Math.floorMod(pick, known.size()));
    log.add("cleanup " + cid + (overlap ? " (overlapping the next action)" : ""));
    ended.remove(cid);
    live.remove(cid);
    agent.cleanup(cid);
    settle(overlap);
  }

  /** Mesos starts nothing on an agent before the isolator's recover() has answered. */
  private void awaitRecovery() {
    scheduler.drainUntil(() -> recovered);
  }

  /** Runs what the engine has queued, all of it or (overlapping the next action) a few steps. */
  private void settle(boolean overlap) {
    if (overlap) {
      scheduler.runSome(scheduler.random().nextInt(4));
    } else {
      scheduler.drain();
    }
  }

  /** The agent is killed (SIGKILL) between steps; a new one recovers. */
  void crashAgent() {
    log.add("crash of the agent");
    crashed(new SimHost.Crash(agent, "the agent's idle time"));
    scheduler.drain();
  }

  /** Someone unmounts a volume's host path behind dvdi's back. */
  void kernelLoses(VolumeKey k) {
    if (host.lose(k)) {
      log.add("the kernel loses the mount of " + k);
    }
  }

  /** One pass of the agent's retry loop, after {@code ms}. */
  void reaper() {
    awaitRecovery();
    if (agent.reaperStarted()) {
      log.add("reaper pass");
      agent.reaperPass();
      scheduler.drain();
    }
  }

  /** {@code dvdi mount}: a CLI process that exits when it has its answer. */
  void operatorMount(VolumeKey k) {
    cli("dvdi mount " + k, cli -> cli.operatorMount(k).whenComplete((r, e) -> {
      if (e == null) {
        pins.add(k);
      }
    }), () -> {
      Container c = state.view().container(MountTable.OPERATOR_PREFIX + k);
      if (c != null && c.getStatus() == ContainerStatus.READY) {
        pins.add(k);
      }
    });
  }

  /** {@code dvdi unmount}. */
  void operatorUnmount(VolumeKey k) {
    pins.remove(k);
    cli("dvdi unmount " + k, cli -> cli.operatorUnmount(k), () -> {});
  }

  /** {@code dvdi release [--force]}. */
  void operatorRelease(VolumeKey k, boolean force) {
    cli("dvdi release " + (force ? "--force " : "") + k, cli -> cli.operatorRelease(k, force), () -> {});
  }

  @Override
  public void operatorReleaseBegun(VolumeKey k, boolean force) {
    if (force) {
      forced.merge(k, 1, Integer::sum);
    }
    pins.remove(k);
    for (Set<VolumeKey> held : live.values()) {
      held.remove(k); // --force takes it away from its users
    }
  }

  private void cli(String what, java.util.function.Function<SimDvdi, CompletableFuture<?>> command, Runnable ifKilled) {
    log.add(what);
    SimDvdi cli = new SimDvdi(this, "cli:" + (++pids) + ":" + BOOT);
    alive.add(cli.owner);
    onCliDeath = ifKilled;
    CompletableFuture<?> f;
    try {
      f = command.apply(cli);
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    CompletableFuture<?> answer = f;
    scheduler.drainUntil(() -> answer.isDone() || !cli.alive());
    if (cli.alive()) {
      if (answer.isCompletedExceptionally()) {
        log.add("  " + what + " failed: " + answer.handle((r, e) -> e.getMessage()).join());
      }
      // the command has its answer and exits: what it still had queued dies with it
      exit(cli);
    }
    onCliDeath = null;
    scheduler.drain();
  }

  private void exit(SimDvdi p) {
    p.kill();
    alive.remove(p.owner);
    scheduler.drop(p);
  }

  /** A process was killed: its queued work is gone; the agent is restarted and recovers. */
  private void crashed(SimHost.Crash c) {
    SimDvdi p = c.process;
    log.add("  killed: " + c.getMessage());
    exit(p);
    if (p != agent) {
      if (onCliDeath != null) {
        onCliDeath.run();
        onCliDeath = null;
      }
      return;
    }
    StateView before = state.view();
    List<String> problems = state.crash(disk);
    check(problems.isEmpty(), "reading state after a crash repaired " + problems);
    check(before.volumes().equals(state.view().volumes()) && before.containers().equals(state.view().containers()),
        "state read back from disk differs from the state written");
    // Mesos recovers its containers; some it knows to be orphans, and cleans those up itself.
    Set<String> orphans = new TreeSet<>();
    for (String id : live.keySet()) {
      if (scheduler.random().nextInt(4) == 0) {
        orphans.add(id);
      }
    }
    ended.retainAll(live.keySet()); // prepares that never answered are gone with the agent
    ended.removeAll(orphans);
    orphans.forEach(live::remove);
    Set<String> liveNow = new TreeSet<>(live.keySet());
    agent = newAgent();
    SimDvdi a = agent;
    log.add("  recover, live " + liveNow + ", orphans " + orphans);
    recovered = false;
    a.recover(liveNow, orphans).thenRun(() -> {
      recovered = true;
      orphans.forEach(a::cleanup);
    });
  }

  // ------------------------------------------------------------------ invariants

  /** Who holds {@code k}, as the model sees it: live containers, and an operator's mount. */
  List<String> holders(VolumeKey k) {
    List<String> out = new ArrayList<>();
    live.forEach((id, held) -> {
      if (held.contains(k)) {
        out.add(id);
      }
    });
    if (pins.contains(k)) {
      out.add(MountTable.OPERATOR_PREFIX + k);
    }
    out.sort(null);
    return out;
  }

  Set<VolumeKey> universe() {
    Set<VolumeKey> all = new TreeSet<>(state.view().volumes().keySet());
    all.addAll(host.attached);
    all.addAll(pins);
    live.values().forEach(all::addAll);
    for (String p : host.mounts.keySet()) {
      all.add(VolumeKey.parse(p.substring(SimHost.MOUNT_ROOT.length() + 1)));
    }
    return all;
  }

  /** Every live container holds a reference on each volume its prepare handed it (unless a forced release took it since). */
  void checkTableHoldsWhatPreparesHandedOut() {
    StateView view = state.view();
    for (String cid : live.keySet()) {
      handed.getOrDefault(cid, Map.of()).forEach((k, forcedThen) -> check(view.users(k).contains(cid)
          || forced.getOrDefault(k, 0) > forcedThen, "prepare of " + cid + " handed it " + k
          + ", but the table has no reference of " + cid + " on it (and no forced release took it since)"));
    }
  }

  boolean quiet() {
    return !scheduler.pending();
  }

  /**
   * At a quiet point (nothing queued; failed releases may be waiting for their retry):
   * references in the table equal the model's holders; every held volume the kernel did not
   * lose is mounted at its host path on its device; a volume nobody holds and nobody pinned
   * is not MOUNTED in the table (its last release started; it may be waiting for its retry);
   * nothing is mounted or attached that the table has no record of
   * (nobody would ever release it).
   */
  void checkQuiet() {
    StateView view = state.view();
    for (VolumeKey k : universe()) {
      List<String> holders = holders(k);
      check(view.users(k).equals(holders), "references on " + k + " in the table are " + view.users(k)
          + ", but its holders are " + holders);
      if (!holders.isEmpty() && !host.lost.contains(k)) {
        check(host.mounted(k), k + " is held by " + holders + " but not mounted");
      }
      Volume rec = view.volume(k);
      if (holders.isEmpty() && rec != null && !rec.getPinned()) {
        check(rec.getStatus() != org.dvdi.core.state.proto.VolumeStatus.MOUNTED, k + " is held by nobody, yet its "
            + "record is MOUNTED, not a release under way or waiting for its retry: the last release did not start");
      }
      if (host.mounted(k) || host.attached.contains(k)) {
        check(view.volume(k) != null, k + " is " + (host.mounted(k) ? "mounted" : "attached")
            + " but the table has no record of it: it leaks");
      }
    }
  }

  /**
   * Quiescent: the provider is healthy again and the reaper has run until it has nothing
   * left to do (checked on a copy of this world, which then goes on with its failures). Then a
   * volume is mounted iff some live container or operator's mount holds it (and the kernel did
   * not lose it), attached iff held, has a table record iff held; the table's containers are
   * exactly the live ones and the operators' mounts, all READY.
   */
  void checkQuiescent() {
    SimWorld w = new SimWorld(this);
    w.host.plan(List.of());
    w.log.add("-- quiescence: a healthy provider, the reaper until it has nothing to do");
    for (int i = 0; ; i++) {
      w.now += SimDvdi.RETRY_MAX.toMillis() * 2;
      int started = w.agent.reaperStarted() ? w.agent.reaperPass() : 0;
      w.scheduler.drain();
      if (started == 0) {
        break;
      }
      w.check(i < 20, "the reaper still finds work after 20 passes with a healthy provider");
    }
    w.checkQuiet();
    StateView view = w.state.view();
    for (VolumeKey k : w.universe()) {
      boolean held = !w.holders(k).isEmpty();
      w.check(w.host.mounted(k) == (held && !w.host.lost.contains(k)), k + " is " + (w.host.mounted(k) ? "" : "not ")
          + "mounted, but its holders are " + w.holders(k) + (w.host.lost.contains(k) ? " (the kernel lost it)" : ""));
      w.check(w.host.attached.contains(k) == held, k + " is " + (w.host.attached.contains(k) ? "" : "not ")
          + "attached, but its holders are " + w.holders(k));
      w.check((view.volume(k) != null) == held, "the table " + (view.volume(k) != null ? "has " + view.volume(k)
          .getStatus() + " record" : "has no record") + " of " + k + ", but its holders are " + w.holders(k));
    }
    Map<String, ContainerStatus> expected = new LinkedHashMap<>();
    w.live.keySet().forEach(id -> expected.put(id, ContainerStatus.READY));
    w.pins.forEach(k -> expected.put(MountTable.OPERATOR_PREFIX + k, ContainerStatus.READY));
    Map<String, ContainerStatus> actual = new TreeMap<>();
    view.containers().forEach((id, c) -> actual.put(id, c.getStatus()));
    w.check(actual.equals(new TreeMap<>(expected)), "the table's containers are " + actual + ", the model's " + expected);
  }

  /** A failed check inside a future's callback (which would swallow it), rethrown by {@link #rethrow}. */
  private AssertionError failure;

  private void inCallback(Runnable r) {
    try {
      r.run();
    } catch (AssertionError e) {
      if (failure == null) {
        failure = e;
      }
    }
  }

  void rethrow() {
    if (failure != null) {
      throw failure;
    }
  }

  void check(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what + "\n  table: " + describe(state.view()) + "\n  kernel mounts " + host.mounts
          + ", attached " + host.attached + "\n  model: live " + live + ", operator mounts " + pins + ", lost " + host.lost
          + "\n  history:\n    " + String.join("\n    ", log));
    }
  }

  static String describe(StateView v) {
    StringBuilder b = new StringBuilder();
    for (Volume vol : v.volumes().values()) {
      b.append(VolumeKey.of(vol)).append('=').append(vol.getStatus()).append(vol.getPinned() ? "(pinned)" : "")
          .append(vol.getLastError().isEmpty() ? "" : "(failed)").append(' ');
    }
    for (Container c : v.containers().values()) {
      b.append(c.getId()).append('=').append(c.getStatus()).append('[');
      c.getUsesList().forEach(u -> b.append(u.getName()).append(u.getAcquired() ? "+" : "-"));
      b.append("] ");
    }
    return b.toString().trim();
  }
}
