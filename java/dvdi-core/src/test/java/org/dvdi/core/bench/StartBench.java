package org.dvdi.core.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.MountTable;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.HostInfo;
import org.dvdi.spi.host.KernelMounts;

/**
 * An agent's start while a provider is hung (issue 13, hole 2): dvdi's state holds
 * {@code orphans} containers Mesos no longer knows (after a reboot, or a lost work dir), each
 * with a volume of the bench provider, whose unmount and detach now block for ever, ignoring
 * deadlines and interrupts (a frozen plugin); one more container is alive. {@code recover()}
 * must answer within {@link org.dvdi.core.engine.VolumeManager#recoverBound()} plus a margin
 * (its calls past their deadlines are left to the reaper), and containers without volumes
 * prepare meanwhile, as the agent launches them once recovery answered. Then the provider
 * answers again, and the reaper must release every orphan's volume.
 */
final class StartBench {
  /** What recover may take beyond its bound: reading state and the mount table, scheduling. */
  static final Duration MARGIN = Duration.ofSeconds(1);

  private final Path root;
  private final PrintStream out;
  private final int orphans;
  private final String timeout;
  private final Path stateDir;
  private final Path mountRoot;
  private final Path sources;

  StartBench(Path root, PrintStream out, int orphans, String timeout) {
    this.root = root;
    this.out = out;
    this.orphans = orphans;
    this.timeout = timeout;
    Map<String, String> s = RecoverBench.settingsUnder(root);
    this.stateDir = Path.of(s.get(DvdiConfig.STATE_DIR));
    this.mountRoot = Path.of(s.get(DvdiConfig.MOUNT_ROOT));
    this.sources = Path.of(s.get(DvdiConfig.PROVIDERS_PREFIX + BenchTmpfsFactory.TYPE + "." + BenchTmpfsFactory.SET_DIR));
  }

  List<String> run() throws Exception {
    List<String> problems = new ArrayList<>();
    Map<String, String> settings = RecoverBench.settingsUnder(root);
    for (DvdiConfig.Step s : DvdiConfig.Step.values()) {
      settings.put(s.key(), timeout);
    }
    settings.put(DvdiConfig.RETRY_INTERVAL, "1s");
    DvdiConfig config = new DvdiConfig(new Settings(settings, "the start bench"));
    Thread unmounter = new Thread(this::unmountAll, "bench-unmount");
    Runtime.getRuntime().addShutdownHook(unmounter);
    CountDownLatch hung = new CountDownLatch(1);
    try (URLClassLoader loader = RecoverBench.loader(root)) {
      String live = build();
      BenchTmpfsFactory.calls.clear();
      BenchTmpfsFactory.hung = hung;
      try (RecoverBench.Engine e = new RecoverBench.Engine(config, loader)) {
        Duration bound = e.manager.recoverBound();
        out.printf("agent start with %d containers Mesos does not know, their volumes' provider hung (every step's "
            + "timeout %s: recover bound %.1f s), and 1 live container%n", orphans, timeout, bound.toMillis() / 1e3);
        long t0 = System.nanoTime();
        CompletableFuture<RecoverResult> rec = e.manager.recover(Set.of(live), Set.of());
        Samples during = new Samples();
        while (!rec.isDone()) {
          noVolume(e, during);
        }
        RecoverResult r = rec.get();
        long tookNs = System.nanoTime() - t0;
        boolean within = tookNs <= bound.plus(MARGIN).toNanos();
        out.printf("  recover answered in %.2f s (bound %.1f s + %.1f s margin: %s); %d of the hung provider's calls "
            + "still blocked; released %d containers, %d volumes; problems %d%n", tookNs / 1e9, bound.toMillis() / 1e3,
            MARGIN.toMillis() / 1e3, within ? "met" : "MISSED", BenchTmpfsFactory.stuck.get(),
            r.releasedContainers().size(), r.releasedVolumes().size(), r.problems().size());
        if (!r.problems().isEmpty()) {
          out.printf("    the first: %s%n", r.problems().get(0));
        }
        out.printf("  containers without volumes, prepare+cleanup during recovery: %d, p50 %s, p99 %s, max %s%n",
            during.count(), Samples.ms(during.percentileMs(50)), Samples.ms(during.percentileMs(99)),
            Samples.ms(during.maxMs()));
        if (!within) {
          problems.add("start: recover took " + tookNs / 1_000_000 + " ms, above its bound " + bound.toMillis()
              + " ms + " + MARGIN.toMillis() + " ms");
        }
        if (during.count() == 0) {
          problems.add("start: no container without volumes was prepared during recovery");
        }
        if (!r.keptContainers().contains(live)) {
          problems.add("start: the live container was not kept: " + r.keptContainers());
        }
        // the plugin answers again: the reaper releases what recovery left
        hung.countDown();
        BenchTmpfsFactory.hung = null;
        long t1 = System.nanoTime();
        long left = orphans;
        while (System.nanoTime() - t1 < Duration.ofSeconds(60).toNanos()) {
          left = orphanVolumes(e.state.view());
          if (left == 0) {
            break;
          }
          Thread.sleep(100);
        }
        out.printf("  after the provider answered again: orphans' volumes released by the reaper in %.1f s (%d left); "
            + "the live container's volume still mounted: %s%n", (System.nanoTime() - t1) / 1e9, left,
            KernelMounts.read().isMountPoint(mountRoot.resolve(BenchTmpfsFactory.TYPE).resolve("live")));
        Samples idle = new Samples();
        while (idle.count() < during.count()) {
          noVolume(e, idle);
        }
        out.printf("  the same afterwards, idle: %d, p50 %s, p99 %s, max %s%n", idle.count(),
            Samples.ms(idle.percentileMs(50)), Samples.ms(idle.percentileMs(99)), Samples.ms(idle.maxMs()));
        if (left != 0) {
          problems.add("start: " + left + " orphans' volumes still in state a minute after the provider answered");
        }
      }
    } finally {
      hung.countDown();
      BenchTmpfsFactory.hung = null;
      unmountAll();
      Runtime.getRuntime().removeShutdownHook(unmounter);
    }
    return problems;
  }

  private int noVolumes;

  /** Prepares and cleans up a container without volumes, as the agent's launches do; then waits 20 ms. */
  private void noVolume(RecoverBench.Engine e, Samples into) throws Exception {
    long a = System.nanoTime();
    String id = "novol-" + noVolumes++;
    e.manager.prepare(new PrepareRequest(id, root.resolve("sandboxes").resolve(id), null, null, List.of()))
        .get(10, TimeUnit.SECONDS);
    e.manager.cleanup(id).get(10, TimeUnit.SECONDS);
    into.add(System.nanoTime() - a, a);
    Thread.sleep(20);
  }

  private long orphanVolumes(StateView v) {
    return v.volumes().keySet().stream().filter(k -> !k.name().equals("live")).count();
  }

  /** Mounts the volumes, writes the state; returns the live container's id. */
  private String build() throws IOException {
    Commands commands = new Commands();
    String bootId = HostInfo.bootId();
    MountTable.Actor before = new MountTable.Actor(Dvdi.WRITER_AGENT + ":1:" + bootId, bootId, System.currentTimeMillis(),
        o -> false);
    List<Volume> vols = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (int i = 0; i < orphans; i++) {
      names.add(String.format("orphan-%04d", i));
    }
    names.add("live");
    Files.createDirectories(sources);
    for (String name : names) {
      Path src = sources.resolve(name);
      if (!Files.exists(src)) {
        Files.createFile(src);
      }
      Path host = mountRoot.resolve(BenchTmpfsFactory.TYPE).resolve(name);
      BenchTmpfsFactory.mountTmpfs(commands, src, host, BenchTmpfsFactory.context("bench mount " + name));
      vols.add(MountTable.mounted(new VolumeKey(BenchTmpfsFactory.TYPE, name), VolumeOptions.EMPTY, host.toString(),
          src.toString(), Map.of(), 0, before));
    }
    try (StateStore s = StateStore.open(stateDir, Dvdi.WRITER_AGENT, Duration.ofSeconds(30))) {
      s.mutate((view, ch) -> {
        vols.forEach(ch::putVolume);
        for (Volume v : vols) {
          String id = v.getName().equals("live") ? "live-container" : "gone-" + v.getName();
          ch.putContainer(Container.newBuilder().setId(id).setStatus(ContainerStatus.READY).setSinceMs(before.nowMs())
              .setOpOwner(before.owner()).addUses(VolumeUse.newBuilder().setDriver(v.getDriver()).setName(v.getName())
                  .setTarget(root.resolve("sandboxes").resolve(id).resolve("data").toString()).setReadOnly(false)
                  .setAcquired(true).setContainerPath("data"))
              .build());
        }
        return null;
      });
    }
    return "live-container";
  }

  /** Unmounts everything under the mount root; idempotent, also from the shutdown hook. */
  synchronized void unmountAll() {
    RecoverBench.unmountUnder(mountRoot);
  }
}
