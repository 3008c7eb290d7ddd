package org.dvdi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding 8: an operator's {@code dvdi mount} killed mid-step (Ctrl-C, SIGKILL) leaves a
 * container PREPARING and a volume ATTACHING with a live attachment; the running agent's retry
 * loop finishes the job without waiting for an agent restart.
 */
@RequiresRoot
class CliInterruptedRootTest {
  @TempDir
  Path tmp;

  @AfterEach
  void undoLeftovers() {
    Commands c = new Commands();
    CallContext ctx = CallContext.of(Duration.ofSeconds(10), "test cleanup", "test");
    for (KernelMounts.Mount mt : KernelMounts.read().under(tmp)) {
      c.run(List.of("umount", "-l", mt.mountPoint()), ctx);
    }
    for (String l : LeakCheck.loops()) {
      if (l.contains(tmp.toString())) {
        c.run(List.of("losetup", "-d", l.split(" ")[0]), ctx);
      }
    }
  }

  boolean attached(Path pool) {
    return LeakCheck.loops().stream().anyMatch(l -> l.contains(pool.toString()));
  }

  @Test
  void finding8_anOperatorMountKilledMidAttachIsUndoneByTheRunningAgent() throws Exception {
    TestDvdi t = new TestDvdi(tmp);
    Path pool = tmp.resolve("hangpool");
    t.settings.put("providers.hangloop.pool", pool.toString());
    t.settings.put("providers.hangloop.default-size", "32MiB");
    t.settings.put("release.retry-interval", "100ms");
    try (Dvdi agent = t.open(Dvdi.WRITER_AGENT)) {
      agent.manager().startReaper();
      Path marker = tmp.resolve("marker");
      List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
          "-cp", System.getProperty("java.class.path"), Main.class.getName()));
      t.settings.forEach((k, v) -> cmd.addAll(List.of("--set", k + "=" + v)));
      cmd.addAll(List.of("--set", "providers.hangloop.hang-after=attach", "--set", "providers.hangloop.marker=" + marker,
          "mount", "hangloop/cut"));
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("cli.log").toFile()).start();
      long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (!Files.exists(marker) && p.isAlive() && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      assertTrue(Files.exists(marker), "the CLI reached its attach: " + Files.readString(tmp.resolve("cli.log")));
      assertTrue(attached(pool), "attached, mid-step");
      p.destroyForcibly(); // SIGKILL: the operator's process is gone mid-step
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertEquals(137, p.exitValue());

      until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while ((attached(pool) || !agent.state().freshView().volumes().isEmpty()
          || !agent.state().freshView().containers().isEmpty()) && System.nanoTime() < until) {
        Thread.sleep(50);
      }
      assertFalse(attached(pool), "the running agent undid the attachment: " + LeakCheck.loops());
      assertTrue(agent.state().freshView().volumes().isEmpty(), agent.state().freshView().volumes().toString());
      assertTrue(agent.state().freshView().containers().isEmpty(), agent.state().freshView().containers().toString());
    }
  }
}
