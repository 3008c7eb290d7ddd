package org.dvdi.core.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.MountTable;
import org.dvdi.core.engine.ProviderRegistry;
import org.dvdi.core.engine.Results.RecoverResult;
import org.dvdi.core.engine.VolumeManager;
import org.dvdi.core.state.StateStore;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.ContainerStatus;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.HostInfo;
import org.dvdi.spi.host.KernelMounts;

/**
 * {@code recover()} after an agent restart with a large checkpointed state: {@code containers}
 * containers over {@code volumes} volumes of the bench provider "benchtmpfs" (really mounted
 * tmpfs, so the kernel check sees them mounted), every container alive. The state is written
 * through the real {@link StateStore} (in batches, so that it is a snapshot plus a journal, as
 * an agent leaves it); each run opens a fresh dvdi on it, as an agent's restart does, and
 * recovers. Nothing may be released, remounted or adopted, and no provider call made.
 */
final class RecoverBench {
  /** Containers (and volumes) per state record while building the state. */
  private static final int CONTAINERS_PER_RECORD = 10;
  private static final int VOLUMES_PER_RECORD = 100;

  private final Path root;
  private final PrintStream out;
  private final int containers;
  private final int volumes;
  private final int runs;
  private final Path stateDir;
  private final Path mountRoot;
  private final Path sources;

  RecoverBench(Path root, PrintStream out, int containers, int volumes, int runs) {
    this.root = root;
    this.out = out;
    this.containers = containers;
    this.volumes = volumes;
    this.runs = runs;
    this.stateDir = root.resolve("state");
    this.mountRoot = root.resolve("volumes");
    this.sources = root.resolve("sources");
  }

  /**
   * The settings of a bench dvdi under {@code root}: state in {@code state}, mounts under
   * {@code volumes}, the bench provider's sources in {@code sources}, and the bench provider as
   * the default driver.
   */
  static Map<String, String> settingsUnder(Path root) {
    Map<String, String> settings = new HashMap<>();
    settings.put(DvdiConfig.STATE_DIR, root.resolve("state").toString());
    settings.put(DvdiConfig.MOUNT_ROOT, root.resolve("volumes").toString());
    settings.put(DvdiConfig.DEFAULT_DRIVER, BenchTmpfsFactory.TYPE);
    settings.put(DvdiConfig.PROVIDERS_PREFIX + BenchTmpfsFactory.TYPE + "." + BenchTmpfsFactory.SET_DIR,
        root.resolve("sources").toString());
    return settings;
  }

  /** The bench's dvdi: as {@link Dvdi#open}, with a class loader that also finds the bench provider. */
  static final class Engine implements AutoCloseable {
    final StateStore state;
    final ProviderRegistry providers;
    final VolumeManager manager;

    Engine(DvdiConfig config, ClassLoader loader) {
      Commands commands = new Commands();
      providers = new ProviderRegistry(config, commands, loader);
      state = StateStore.open(config.stateDir(), Dvdi.WRITER_AGENT, config.lockTimeout());
      manager = new VolumeManager(config, state, providers, commands, Dvdi.WRITER_AGENT);
    }

    @Override
    public void close() {
      manager.close();
      providers.close();
      state.close();
    }
  }

  List<String> run() throws Exception {
    List<String> problems = new ArrayList<>();
    Map<String, String> settings = settingsUnder(root);
    settings.put(DvdiConfig.RETRY_INTERVAL, "1h");
    DvdiConfig config = new DvdiConfig(new Settings(settings, "the recover bench"));
    Thread unmounter = new Thread(this::unmountAll, "bench-unmount");
    Runtime.getRuntime().addShutdownHook(unmounter);
    try (URLClassLoader loader = loader()) {
      Set<String> live = build(config);
      Samples open = new Samples();
      Samples recover = new Samples();
      for (int i = 0; i < runs; i++) {
        BenchTmpfsFactory.calls.clear();
        long t0 = System.nanoTime();
        RecoverResult r;
        try (Engine e = new Engine(config, loader)) {
          long t1 = System.nanoTime();
          r = e.manager.recover(live, Set.of()).join();
          long t2 = System.nanoTime();
          open.add(t1 - t0, t0);
          recover.add(t2 - t1, t1);
        }
        check(r, i, problems);
        if (i == 0) {
          out.printf("  first run (a fresh JVM, as an agent's restart is): open %s, recover %s%n",
              Samples.ms(open.maxMs()), Samples.ms(recover.maxMs()));
        }
      }
      out.printf("  open of a fresh dvdi (state read): p50 %s, min %s, max %s over %d runs%n",
          Samples.ms(open.percentileMs(50)), Samples.ms(open.minMs()), Samples.ms(open.maxMs()), runs);
      out.printf("  recover(%d live, 0 orphans): p50 %s, min %s, max %s over %d runs (goal p50 <= 1 s): %s%n",
          live.size(), Samples.ms(recover.percentileMs(50)), Samples.ms(recover.minMs()), Samples.ms(recover.maxMs()), runs,
          recover.percentileMs(50) <= 1000 ? "met" : "MISSED");
      afterAll(problems);
    } finally {
      unmountAll();
      Runtime.getRuntime().removeShutdownHook(unmounter);
    }
    return problems;
  }

  private URLClassLoader loader() throws IOException {
    return loader(root);
  }

  /** A class loader that finds the bench provider too (a services file of its own, under {@code root}). */
  static URLClassLoader loader(Path root) throws IOException {
    Path dir = root.resolve("bench-services");
    Path f = dir.resolve("META-INF/services/" + ProviderFactory.class.getName());
    Files.createDirectories(f.getParent());
    Files.writeString(f, BenchTmpfsFactory.class.getName() + "\n");
    return new URLClassLoader(new java.net.URL[] {dir.toUri().toURL()}, RecoverBench.class.getClassLoader());
  }

  /** Mounts the volumes and writes the state; returns the containers' ids. */
  private Set<String> build(DvdiConfig config) {
    out.printf("recover of %d checkpointed containers over %d volumes (%s: tmpfs mounts under %s), all alive%n",
        containers, volumes, BenchTmpfsFactory.TYPE, mountRoot);
    long t0 = System.nanoTime();
    Commands commands = new Commands();
    List<Volume> vols = new ArrayList<>();
    String bootId = HostInfo.bootId();
    // the agent that wrote the state: gone (another pid), this boot
    MountTable.Actor before = new MountTable.Actor(Dvdi.WRITER_AGENT + ":1:" + bootId, bootId, System.currentTimeMillis(),
        o -> false);
    for (int i = 0; i < volumes; i++) {
      String name = String.format("vol-%05d", i);
      Path src = sources.resolve(name);
      Path host = mountRoot.resolve(BenchTmpfsFactory.TYPE).resolve(name);
      try {
        Files.createDirectories(sources);
        if (!Files.exists(src)) {
          Files.createFile(src);
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot create " + src, e);
      }
      BenchTmpfsFactory.mountTmpfs(commands, src, host, BenchTmpfsFactory.context("bench mount " + name));
      vols.add(MountTable.mounted(new VolumeKey(BenchTmpfsFactory.TYPE, name), VolumeOptions.EMPTY, host.toString(),
          src.toString(), Map.of(), 0, before));
    }
    long t1 = System.nanoTime();
    Set<String> ids = new HashSet<>();
    try (StateStore s = StateStore.open(stateDir, Dvdi.WRITER_AGENT, Duration.ofSeconds(30))) {
      for (int i = 0; i < vols.size(); i += VOLUMES_PER_RECORD) {
        List<Volume> batch = vols.subList(i, Math.min(vols.size(), i + VOLUMES_PER_RECORD));
        s.mutate((view, ch) -> {
          batch.forEach(ch::putVolume);
          return null;
        });
      }
      for (int i = 0; i < containers; i += CONTAINERS_PER_RECORD) {
        List<Container> batch = new ArrayList<>();
        for (int j = i; j < Math.min(containers, i + CONTAINERS_PER_RECORD); j++) {
          Volume v = vols.get(j % vols.size());
          String id = UUID.randomUUID().toString();
          ids.add(id);
          Path sandbox = root.resolve("agent/slaves/S0/frameworks/F0/executors/e" + j + "/runs").resolve(id);
          batch.add(Container.newBuilder().setId(id).setStatus(ContainerStatus.READY).setSinceMs(before.nowMs())
              .setOpOwner(before.owner()).addUses(VolumeUse.newBuilder().setDriver(v.getDriver()).setName(v.getName())
                  .setTarget(sandbox.resolve("data").toString()).setReadOnly(false).setAcquired(true).setContainerPath("data"))
              .build());
        }
        s.mutate((view, ch) -> {
          batch.forEach(ch::putContainer);
          return null;
        });
      }
    }
    long t2 = System.nanoTime();
    out.printf("  setup: %d tmpfs mounts in %.1f s; state written in %.1f s (%s)%n", volumes, (t1 - t0) / 1e9,
        (t2 - t1) / 1e9, stateFiles());
    return ids;
  }

  private String stateFiles() {
    List<String> out = new ArrayList<>();
    try (var files = Files.list(stateDir)) {
      for (Path p : files.sorted().toList()) {
        out.add(p.getFileName() + " " + Files.size(p) / 1024 + " KiB");
      }
    } catch (IOException e) {
      out.add("cannot list " + stateDir + ": " + e.getMessage());
    }
    return String.join(", ", out);
  }

  private void check(RecoverResult r, int run, List<String> problems) {
    String at = "recover run " + (run + 1) + ": ";
    if (!r.releasedContainers().isEmpty() || !r.releasedVolumes().isEmpty() || !r.adoptedVolumes().isEmpty()) {
      problems.add(at + "released containers " + r.releasedContainers().size() + ", released volumes "
          + r.releasedVolumes().size() + ", adopted " + r.adoptedVolumes().size() + " (expected none)");
    }
    if (r.keptContainers().size() != containers || r.keptVolumes().size() != volumes) {
      problems.add(at + "kept " + r.keptContainers().size() + " containers and " + r.keptVolumes().size()
          + " volumes, expected " + containers + " and " + volumes);
    }
    if (!r.problems().isEmpty()) {
      problems.add(at + "problems " + r.problems().subList(0, Math.min(3, r.problems().size())));
    }
    if (BenchTmpfsFactory.totalCalls() != 0) {
      problems.add(at + "the provider was called: " + BenchTmpfsFactory.calls);
    }
  }

  /** After all runs: the state and the kernel still have every container and volume. */
  private void afterAll(List<String> problems) {
    StateView v = StateStore.read(stateDir, Duration.ofSeconds(30)).view();
    long mounted = v.volumes().values().stream().filter(x -> x.getStatus() == VolumeStatus.MOUNTED).count();
    int inKernel = KernelMounts.read().under(mountRoot).size();
    boolean ok = v.containers().size() == containers && mounted == volumes && inKernel == volumes;
    out.printf("  checks: nothing released, remounted or adopted, no provider call; afterwards state has %d "
        + "containers and %d mounted volumes, the kernel %d mounts: %s%n", v.containers().size(), mounted, inKernel,
        ok && problems.isEmpty() ? "ok" : "FAILED");
    if (!ok) {
      problems.add("after recovery: state has " + v.containers().size() + " containers and " + mounted
          + " mounted volumes, the kernel " + inKernel + " mounts under " + mountRoot);
    }
  }

  /** Unmounts everything under the mount root (deepest first); idempotent, also from the shutdown hook. */
  synchronized void unmountAll() {
    unmountUnder(mountRoot);
  }

  /** Unmounts everything under {@code mountRoot}, deepest first (lazily when busy). */
  static void unmountUnder(Path mountRoot) {
    Commands commands = new Commands();
    List<KernelMounts.Mount> ms = new ArrayList<>(KernelMounts.read().under(mountRoot));
    java.util.Collections.reverse(ms);
    for (KernelMounts.Mount m : ms) {
      Commands.Result r = commands.run(List.of("umount", m.mountPoint()), Duration.ofSeconds(30));
      if (!r.ok()) {
        commands.run(List.of("umount", "--lazy", m.mountPoint()), Duration.ofSeconds(30));
      }
    }
  }
}
