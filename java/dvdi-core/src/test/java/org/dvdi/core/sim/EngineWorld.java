package org.dvdi.core.sim;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.config.DvdiConfig.Step;
import org.dvdi.core.engine.ProviderRegistry;
import org.dvdi.core.engine.Results.PrepareResult;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.engine.VolumeManager;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.seams.CrashHook;
import org.dvdi.core.seams.Seams;
import org.dvdi.core.seams.SimDisk;
import org.dvdi.core.seams.SimHost;
import org.dvdi.core.seams.SimScheduler;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.Commands;

/**
 * A simulated world that runs the real engine (DESIGN.md, "Seams"): one host ({@link
 * SimHost}) with its disk ({@link SimDisk}), the storage behind the simulated providers, and
 * dvdi processes on it: the agent's engine and, for each operator command, a CLI's engine,
 * each a real {@link VolumeManager} over a real {@link StateStore} on that disk, with its own
 * {@link SimScheduler} on the world's virtual time. Steps are what Mesos, the operator and the
 * world do; after each, the invariants are checked ({@link #check}).
 */
final class EngineWorld implements AutoCloseable {
  static final Path STATE = Path.of("/var/lib/dvdi/state");
  static final Path MOUNT_ROOT = Path.of("/var/lib/dvdi/volumes");
  /** Each step's provider timeout. */
  static final Duration STEP = Duration.ofSeconds(10);
  /** What the bounds the engine states may be passed by: the simulated calls' own few milliseconds. */
  static final Duration MARGIN = Duration.ofSeconds(1);
  static final List<String> DRIVERS = List.of("block", "plugin");
  /** How long the world runs at its end, faults off, for the retries to finish (beyond a hang, which lasts {@link SimStorage#HANG}). */
  static final Duration DRAIN = Duration.ofMinutes(3);

  /** One dvdi process: its scheduler, its view of the host, its engine. */
  record Engine(String name, SimScheduler scheduler, SimHost host, StateStore state, ProviderRegistry providers,
      VolumeManager manager) {
    /** SIGKILL: its threads stop at their seams, and its pid ends on the host (to be reused). */
    void kill(Set<Long> ended) {
      EngineWorld.kill(scheduler, host, ended);
    }
  }

  /** SIGKILL of the dvdi process that runs on {@code s} as {@code proc}; its pid goes to {@code ended}. */
  static void kill(SimScheduler s, SimHost proc, Set<Long> ended) {
    s.kill();
    proc.kill(proc.pid());
    ended.add(proc.pid());
  }

  final long seed;
  final SimScheduler.Runtime rt;
  final SimStorage storage = new SimStorage();
  final SimHost host;
  final SimHostAdapter ops;
  final SimDisk disk = new SimDisk();
  final Path sandboxes;
  final List<String> log = new ArrayList<>();
  private final List<AssertionError> violations = new ArrayList<>();
  Engine agent;
  private int processes;
  private int containers;
  /** Containers whose prepare Mesos saw succeed and that it has not cleaned up: volume keys. */
  final Map<String, List<VolumeKey>> live = new TreeMap<>();
  /** Containers whose cleanup Mesos asked for and has not seen end. */
  final Set<String> cleaning = new TreeSet<>();
  /** Containers whose cleanup Mesos saw end without failures (since the last reboot). */
  final Set<String> cleanedUp = new TreeSet<>();
  /** Containers whose prepare is under way. */
  final Set<String> preparing = new TreeSet<>();
  /** The crash point at which the agent dies the next time it reaches it, or null. */
  private String crashAt;
  /** Pids of dvdi processes that were killed (the kernel may give them out again). */
  final Set<Long> endedPids = new TreeSet<>();

  EngineWorld(long seed, Path sandboxes) {
    this.seed = seed;
    this.rt = new SimScheduler.Runtime(seed);
    this.host = new SimHost("a", rt::currentTimeMillis);
    this.ops = new SimHostAdapter("a", host);
    this.sandboxes = sandboxes;
    agent = open("agent");
    recover(agent, Set.of());
  }

  DvdiConfig config() {
    Map<String, String> s = new HashMap<>();
    s.put(DvdiConfig.STATE_DIR, STATE.toString());
    s.put(DvdiConfig.MOUNT_ROOT, MOUNT_ROOT.toString());
    s.put(DvdiConfig.DEFAULT_DRIVER, "block");
    s.put("drivers.block", SimProviderFactory.BLOCK);
    s.put("drivers.plugin", SimProviderFactory.PLUGIN);
    for (Step st : Step.values()) {
      s.put(st.key(), STEP.toSeconds() + "s");
    }
    s.put(DvdiConfig.RETRY_INTERVAL, "20s");
    s.put("release.retry-max", "1m");
    s.put(DvdiConfig.INSTANCE_ID, "a");
    s.put(DvdiConfig.WORKERS, "2"); // few, so that hung calls can use them up
    return new DvdiConfig(new Settings(s, "simulation"));
  }

  Engine open(String writer) {
    String name = writer + "-" + (++processes);
    SimScheduler s = new SimScheduler(rt, name);
    SimHost proc = host.newProcess();
    DvdiConfig config = config();
    StateStore state = StateStore.open(STATE, writer, config.lockTimeout(), new ProcessDisk(disk, s));
    Commands commands = new Commands();
    ProviderRegistry providers = new ProviderRegistry(config, commands, SimProviderFactory.both(storage, ops, s));
    CrashHook crash = writer.equals("agent") ? point -> crashHere(s, proc, point) : CrashHook.NONE;
    VolumeManager m = new VolumeManager(config, state, providers, commands, writer, new Seams(s, proc, crash));
    return new Engine(name, s, proc, state, providers, m);
  }

  /** The agent's engine reached {@code point}: when it is the armed one, the agent dies there (SIGKILL). */
  private void crashHere(SimScheduler s, SimHost proc, String point) {
    if (point.equals(crashAt) && s.alive()) {
      crashAt = null;
      log.add("  agent crashes at " + point);
      kill(s, proc, endedPids);
      s.check(); // Killed: nothing of this thread runs past the point
    }
  }

  /** The agent dies (SIGKILL) the next time its engine reaches crash point {@code point}. */
  void crashAt(String point) {
    log.add("agent to crash at " + point);
    crashAt = point;
  }

  /** When the agent died at a crash point, it starts again (as systemd starts it); Mesos recovers it. */
  void restartIfCrashed() {
    while (!agent.scheduler().alive()) {
      restartAgent();
    }
  }

  static VolumeKey vol(int driver, int name) {
    return new VolumeKey(DRIVERS.get(driver), "v" + name);
  }

  void violation(String what) {
    AssertionError e = new AssertionError(what + "\n  seed " + seed + ", steps so far:\n    " + String.join("\n    ", log));
    violations.add(e);
  }

  /** Throws the first invariant that failed. */
  void rethrow() {
    if (!violations.isEmpty()) {
      throw violations.get(0);
    }
  }

  // ------------------------------------------------------------------ steps

  void prepare(List<VolumeKey> vols) {
    String cid = "c" + (++containers);
    log.add("prepare " + cid + " " + vols);
    Map<String, String> env = new HashMap<>();
    for (int i = 0; i < vols.size(); i++) {
      String sfx = i == 0 ? "" : Integer.toString(i);
      env.put("DVDI_VOLUME_NAME" + sfx, vols.get(i).name());
      env.put("DVDI_VOLUME_DRIVER" + sfx, vols.get(i).driver());
    }
    List<VolumeRequest> reqs = EnvRequests.parse(env, "block");
    PrepareRequest req = new PrepareRequest(cid, sandboxes, null, null, reqs);
    Engine a = agent;
    long t0 = rt.nanoTime();
    preparing.add(cid);
    a.scheduler().run("prepare " + cid, () -> a.manager().prepare(req).whenComplete((r, e) -> {
      if (!a.scheduler().alive()) {
        return; // the answer never reached Mesos
      }
      preparing.remove(cid);
      Duration took = Duration.ofNanos(rt.nanoTime() - t0);
      Duration bound = a.manager().prepareBound().plus(MARGIN);
      if (took.compareTo(bound) > 0) {
        violation("prepare of " + cid + " answered after " + took.toMillis() + " ms, past its bound of "
            + bound.toMillis() + " ms");
      }
      if (e != null) {
        log.add("  prepare " + cid + " failed: " + e.getMessage());
        return;
      }
      for (var v : r.volumes()) {
        if (!onItsMount(v.key(), v.hostPath())) {
          violation("prepare of " + cid + " hands " + v.hostPath() + " (" + v.key() + ") to the container, but that "
              + "is not the volume's live mount: " + host.mountTable().all());
        }
      }
      live.put(cid, vols);
      log.add("  prepare " + cid + " done" + (r.volumes().stream().allMatch(org.dvdi.core.engine.Results.PreparedVolume::fastPath) ? " (fast)" : ""));
    }));
  }

  /** Whether {@code path}, handed out for {@code key}, is on the volume's mount now. */
  boolean onItsMount(VolumeKey key, String path) {
    if (key.driver().equals("block")) {
      String target = MOUNT_ROOT.resolve(key.driver()).resolve(key.name()).toString();
      String node = ops.nodePath(key.driver() + "/" + key.name());
      return path.equals(target) && node.equals(ops.mountedAt(target)) && ops.nodeExists(node);
    }
    String dir = "/sim/plugin/" + key.driver() + "/" + key.name();
    return path.equals(dir + "/data") && ops.mountedAt(dir) != null;
  }

  void cleanup(int pick) {
    List<String> all = new ArrayList<>(live.keySet());
    all.addAll(preparing);
    if (all.isEmpty()) {
      return;
    }
    String cid = all.get(pick % all.size());
    log.add("cleanup " + cid);
    cleaning.add(cid);
    Engine a = agent;
    long t0 = rt.nanoTime();
    a.scheduler().run("cleanup " + cid, () -> a.manager().cleanup(cid).whenComplete((r, e) -> {
      if (a.scheduler().alive()) {
        Duration took = Duration.ofNanos(rt.nanoTime() - t0);
        Duration bound = a.manager().cleanupBound().plus(MARGIN);
        if (took.compareTo(bound) > 0) {
          violation("cleanup of " + cid + " answered after " + took.toMillis() + " ms, past its bound of "
              + bound.toMillis() + " ms");
        }
        live.remove(cid);
        preparing.remove(cid);
        cleaning.remove(cid);
        if (e == null && r.failures().isEmpty()) {
          cleanedUp.add(cid);
        }
        log.add("  cleanup " + cid + (e == null ? " done" + (r.failures().isEmpty() ? "" : " " + r.failures()) : " failed: " + e));
      }
    }));
  }

  /** The agent process dies (SIGKILL) and starts again; Mesos recovers the containers it ran. */
  void restartAgent() {
    log.add("agent killed and restarted");
    agent.kill(endedPids);
    preparing.clear(); // Mesos destroys containers whose launch had not finished
    agent = open("agent");
    checkAcknowledged(agent, "after the agent's restart");
    // a container whose destruction had begun is no longer running: Mesos recovers it as gone
    live.keySet().removeAll(cleaning);
    cleaning.clear();
    recover(agent, Set.copyOf(live.keySet()));
  }

  /** The host reboots (power cut: unsynced bytes are lost); no container survives it. */
  void reboot() {
    log.add("host reboots");
    agent.kill(endedPids);
    disk.crash(rt.random());
    host.reboot();
    endedPids.clear();
    storage.attachedTo.entrySet().removeIf(e -> e.getValue().equals(ops.hostId())); // attachments end with the host
    agent = open("agent");
    checkAcknowledged(agent, "after a power cut");
    live.clear();
    preparing.clear();
    cleaning.clear();
    cleanedUp.clear();
    recover(agent, Set.of());
  }

  /** A tighter bound on recovery than the engine's own, for a test whose world needs less; null: the engine's. */
  Duration recoverBound;

  void recover(Engine a, Set<String> liveIds) {
    long t0 = rt.nanoTime();
    boolean[] done = {false};
    a.scheduler().run("recover", () -> a.manager().recover(liveIds, Set.of()).whenComplete((r, e) -> {
      done[0] = true;
      if (!a.scheduler().alive()) {
        return;
      }
      Duration took = Duration.ofNanos(rt.nanoTime() - t0);
      log.add("  recovered in " + took.toMillis() + " ms" + (e != null ? ", failed: " + e : problems(r)));
      Duration bound = (recoverBound != null ? recoverBound : a.manager().recoverBound()).plus(MARGIN);
      if (took.compareTo(bound) > 0) {
        violation("recover took " + took.toMillis() + " ms, past its bound of " + bound.toMillis()
            + " ms: until recover ends the agent launches nothing");
      }
    }));
    rt.runFor(a.manager().recoverBound().plus(SimStorage.HANG).plus(Duration.ofMinutes(1)));
    if (!done[0] && a.scheduler().alive()) {
      violation("recover never ended");
    }
  }

  /**
   * Invariant: no acknowledged change is lost in a crash. What dvdi answered before it died (a
   * prepare Mesos saw succeed, a cleanup it saw end without failures) is in the state the next
   * process reads, before its recovery changes anything: each such container with each of its
   * volumes, and no cleaned-up container back.
   */
  private void checkAcknowledged(Engine a, String after) {
    org.dvdi.core.state.StateView view = a.state().freshView();
    live.forEach((cid, vols) -> {
      if (cleaning.contains(cid)) {
        return; // its cleanup had begun: it may have ended before the crash
      }
      org.dvdi.core.state.proto.Container c = view.containers().get(cid);
      if (c == null) {
        violation(after + ": container " + cid + ", whose prepare dvdi acknowledged, is not in the state it wrote");
        return;
      }
      for (VolumeKey k : vols) {
        if (c.getUsesList().stream().noneMatch(u -> u.getDriver().equals(k.driver()) && u.getName().equals(k.name()))) {
          violation(after + ": container " + cid + " lost its use of " + k + " from the state (prepare acknowledged)");
        }
      }
    });
    for (String cid : cleanedUp) {
      if (view.containers().containsKey(cid)) {
        violation(after + ": container " + cid + ", whose cleanup dvdi acknowledged, is back in the state");
      }
    }
  }

  private static String problems(RecoverResult r) {
    return r.problems().isEmpty() ? "" : ", problems " + r.problems();
  }

  /** A mount goes away behind dvdi's back (an operator's umount, a plugin that lost it). */
  void kernelLoses(VolumeKey key) {
    String target = key.driver().equals("block") ? MOUNT_ROOT.resolve(key.driver()).resolve(key.name()).toString()
        : "/sim/plugin/" + key.driver() + "/" + key.name();
    if (ops.mountedAt(target) != null) {
      log.add("kernel loses " + key);
      ops.umount(target);
      if (!key.driver().equals("block")) {
        ops.mkdirs(target + "/data"); // the bare directory a plugin leaves
      }
    }
  }

  /** Another agent force-detaches a block volume: its device node goes away here, its dead mount stays. */
  void forceDetached(VolumeKey key) {
    String node = ops.nodePath(key.driver() + "/" + key.name());
    if (key.driver().equals("block") && ops.nodeExists(node)) {
      log.add("force-detach of " + key + " elsewhere");
      ops.removeNode(node);
      storage.attachedTo.remove(key.driver() + "/" + key.name());
    }
  }

  /** An operator's command in a CLI process of its own: {@code dvdi mount|unmount|release [--force]}. */
  void cli(String command, VolumeKey key, boolean force) {
    log.add("dvdi " + command + (force ? " --force " : " ") + key);
    Engine c;
    try {
      c = open("cli");
    } catch (RuntimeException e) {
      log.add("  refused: " + e.getMessage());
      return;
    }
    boolean[] done = {false};
    c.scheduler().run(command, () -> {
      CompletableFuture<?> f = switch (command) {
        case "mount" -> c.manager().operatorMount(key, VolumeOptions.EMPTY, false);
        case "unmount" -> c.manager().operatorUnmount(key);
        default -> c.manager().operatorRelease(key, force);
      };
      f.whenComplete((r, e) -> {
        done[0] = true;
        log.add("  dvdi " + command + " " + key + (e == null ? " done" : " failed: " + e.getMessage()));
      });
    });
    rt.runFor(Duration.ofMinutes(5));
    if (!done[0]) {
      log.add("  dvdi " + command + " " + key + " interrupted (Ctrl-C)");
    }
    c.kill(endedPids);
  }

  /** The kernel gives the pids of dvdi processes that ended to new processes (none of them dvdi's). */
  void reusePids() {
    for (long pid : endedPids) {
      if (host.processStartMs(pid).isEmpty()) {
        log.add("pid " + pid + " now belongs to another process");
        host.spawn(pid);
      }
    }
    endedPids.clear();
  }

  /** Time passes (the reaper's passes run). */
  void advance(Duration d) {
    rt.advance(d);
  }

  // ------------------------------------------------------------------ the end

  /**
   * Faults stop; every container ends; after the reaper had its time, nothing is left: every
   * volume released, nothing mounted under dvdi's trees, nothing attached to this host.
   */
  void drain() {
    crashAt = null;
    restartIfCrashed();
    storage.plan(List.of());
    rt.runFor(SimStorage.HANG.plus(DRAIN));
    while (!live.isEmpty() || !preparing.isEmpty()) {
      int before = live.size() + preparing.size();
      cleanup(0);
      rt.runFor(DRAIN);
      if (live.size() + preparing.size() >= before) {
        violation("a cleanup never ended: " + live.keySet() + preparing);
        break;
      }
    }
    rethrow();
    // The operator's own mounts, and what the agent adopted (mounted, unknown to state), are the operator's to end.
    for (String cid : agent.state().freshView().containers().keySet()) {
      if (cid.startsWith(VolumeManager.OPERATOR_PREFIX)) {
        cli("unmount", VolumeKey.parse(cid.substring(VolumeManager.OPERATOR_PREFIX.length())), false);
      }
    }
    for (Volume v : agent.state().freshView().volumes().values()) {
      if (v.getPinned()) {
        cli("release", VolumeKey.of(v), false);
      }
    }
    rt.runFor(DRAIN);
    Map<VolumeKey, Volume> left = agent.state().freshView().volumes();
    List<String> mounted = new ArrayList<>();
    host.mountTable().all().forEach(mt -> {
      if (mt.mountPoint().startsWith(MOUNT_ROOT + "/") || mt.mountPoint().startsWith("/sim/plugin/")) {
        mounted.add(mt.mountPoint() + " <- " + mt.source());
      }
    });
    if (!left.isEmpty() || !mounted.isEmpty() || storage.attachedTo.containsValue(ops.hostId())) {
      violation("after every container ended and the retries had their time, something is left: containers "
          + live.keySet() + preparing + ", volumes " + left.keySet() + ", mounts " + mounted + ", attached here "
          + storage.attachedTo);
    }
    rethrow();
  }

  @Override
  public void close() {
    rt.close();
  }
}
