package org.dvdi.core.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;

/**
 * The engine bench's smoke mode, so that it keeps working: tiny sizes, no pacing. Nothing about
 * time is asserted; its own checks are (fast path taken, every hanging prepare ended by
 * TIMEOUT or dvdi's answer, a start with a hung provider answered within its bound and released
 * the orphans' volumes once the provider answered, recovery released and remounted nothing and called no provider,
 * nothing left mounted).
 */
@RequiresRoot
class EngineBenchRootTest {
  @Test
  void benchSmoke_runsAtTinySizesAndItsChecksHold() throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int rc = EngineBench.run(new String[] {"samples=20", "rounds=1", "warmup=5", "hung=4", "attach-timeout=1s",
        "paced=false", "orphans=3", "start-timeout=300ms", "containers=60", "volumes=6", "runs=2"}, new PrintStream(buf, true, StandardCharsets.UTF_8));
    String out = buf.toString(StandardCharsets.UTF_8);
    assertEquals(0, rc, out);
    assertTrue(out.contains("container without volumes: idle p50"), out);
    assertTrue(out.contains("recover(60 live, 0 orphans)"), out);
    assertTrue(out.contains("orphans' volumes released by the reaper"), out);
    assertTrue(out.contains("the kernel 6 mounts: ok"), out);
  }
}
