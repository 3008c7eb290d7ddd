package org.dvdi.provider.plugin;

import static org.dvdi.provider.plugin.TestContexts.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.dvdi.provider.dvdcli.FakeDvdcli;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Latency of a mount as dvdi's core makes it (inspect, create if missing, mount) through each
 * provider, against the fake plugin and the fake dvdcli: "cold" for a volume that does not
 * exist yet, "warm" for one that exists (not mounted here). Prints p50 and p90 of 50 runs; the
 * unmount after each run is not measured. Unmeasured runs first: 300 for the plugin provider,
 * so that the JIT has compiled its code as in a long-running agent; 10 for dvdcli, whose cost
 * is a process per call, not JIT.
 */
class MountLatencyTest {
  static final int RUNS = 50;
  static final VolumeOptions OPTS = new VolumeOptions(Map.of("size", "1"), "bench");

  @TempDir
  Path tmp;

  @Test
  void coldAndWarmMounts() throws Exception {
    try (FakePlugin plugin = FakePlugin.unix(tmp.resolve("sockets/bench.sock"), tmp.resolve("volumes"))) {
      VolumeProvider p = new PluginProviderFactory().create("bench", TestContexts.of(Map.of(
          PluginProvider.SET_SOCKET_DIRS, tmp.resolve("sockets").toString(),
          PluginProvider.SET_SPEC_DIRS, tmp.resolve("specs").toString())));
      report("plugin", p, 300);
      assertEquals(List.of(), plugin.violations);
    }
    FakeDvdcli dvdcli = FakeDvdcli.install(tmp.resolve("dvdcli"), "rexray");
    report("dvdcli", dvdcli.provider("rexray"), 10);
  }

  private static void report(String label, VolumeProvider p, int warmup) {
    List<Long> cold = new ArrayList<>();
    List<Long> warm = new ArrayList<>();
    for (int i = 0; i < warmup + RUNS; i++) {
      String name = label + "-" + i;
      long c = mountAsTheCoreDoes(p, name);
      long w = mountAsTheCoreDoes(p, name); // exists now
      if (i >= warmup) {
        cold.add(c);
        warm.add(w);
      }
    }
    System.out.println(String.format(Locale.ROOT, "mount latency through %-6s (%d runs after %d): cold p50 %s p90 %s | warm p50 %s p90 %s",
        label, RUNS, warmup, ms(cold, 50), ms(cold, 90), ms(warm, 50), ms(warm, 90)));
  }

  /** inspect, create when missing, mount; returns nanoseconds; then unmounts (not measured). */
  private static long mountAsTheCoreDoes(VolumeProvider p, String name) {
    long t = System.nanoTime();
    if (p.inspect(name, ctx(5000)).isEmpty()) {
      p.create(name, OPTS, ctx(5000));
    }
    MountedVolume mv = p.mount(name, OPTS, p.attach(name, OPTS, ctx(5000)), ctx(5000));
    long took = System.nanoTime() - t;
    p.unmount(new VolumeHandle(name, OPTS, mv.hostPath(), "", Map.of()), ctx(5000));
    return took;
  }

  private static String ms(List<Long> nanos, int percentile) {
    List<Long> s = new ArrayList<>(nanos);
    Collections.sort(s);
    long v = s.get(Math.min(s.size() - 1, (int) Math.ceil(percentile / 100.0 * s.size()) - 1));
    return String.format(Locale.ROOT, "%.2f ms", v / 1e6);
  }
}
