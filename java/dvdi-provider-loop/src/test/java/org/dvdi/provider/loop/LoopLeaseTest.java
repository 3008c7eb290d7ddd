package org.dvdi.provider.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.HostInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lease setting, the lease in the pool record, and the renewals' own timer (no loop device needed). */
class LoopLeaseTest {
  @TempDir
  Path tmp;

  VolumeProvider loop(String instance, Map<String, String> settings) {
    return new LoopProviderFactory().create("loop", LoopProviderConformanceRootTest.context(tmp, instance, settings));
  }

  LoopPool pool() {
    return new LoopPool(tmp.resolve("pool"), "loop", System::currentTimeMillis);
  }

  @Test
  void theLeaseSettingIsValidatedNamingIt() {
    DvdiException shortLease = assertThrows(DvdiException.class, () -> loop("h", Map.of("lease", "500ms")));
    assertEquals(ErrorCode.INVALID_CONFIG, shortLease.getCode());
    assertTrue(shortLease.getMessage().contains("providers.loop.lease") && shortLease.getMessage().contains("at least 1s"),
        shortLease.getMessage());
    DvdiException garbage = assertThrows(DvdiException.class, () -> loop("h", Map.of("lease", "soon")));
    assertEquals(ErrorCode.INVALID_CONFIG, garbage.getCode());
    assertTrue(garbage.getMessage().contains("'lease'"), garbage.getMessage());
    loop("h", Map.of("lease", "1s")).close();
  }

  @Test
  void aHolderRecordOfFormat2WithoutItsLeaseIsDamaged() throws Exception {
    Files.createDirectories(tmp.resolve("pool"));
    Files.writeString(tmp.resolve("pool/v.meta"), "format=2\nstate=ready\nname=v\nsize=1\ncreated=1\nholder=h\nholder-since=2\n");
    DvdiException e = assertThrows(DvdiException.class, () -> pool().find("v"));
    assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
    assertTrue(e.getMessage().contains("lease-until"), e.getMessage());
  }

  @Test
  void theRenewalsRunOnTheirOwnTimerFromTheStart() throws Exception {
    try (VolumeProvider first = loop("agent-a", Map.of())) {
      first.create("v", LoopProviderRootTest.opts("size", "32MiB"), LoopProviderRootTest.ctx());
    }
    // A record that names agent-a with a lease that has just run out (as after a long restart).
    long now = System.currentTimeMillis();
    LoopPool.Meta m = pool().read("v").orElseThrow();
    pool().write(m.withHolder("agent-a", now, HostInfo.bootId(), now - 1));
    try (VolumeProvider p = loop("agent-a", Map.of("lease", "3s"))) {
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (pool().read("v").orElseThrow().leaseUntilMs() < now && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(pool().read("v").orElseThrow().leaseUntilMs() >= now + 3000, "renewed by the first pass, at once");
    }
    long closed = pool().read("v").orElseThrow().leaseUntilMs();
    Thread.sleep(1500); // more than a renewal period (1s)
    assertEquals(closed, pool().read("v").orElseThrow().leaseUntilMs(), "close stops the renewals");
  }
}
