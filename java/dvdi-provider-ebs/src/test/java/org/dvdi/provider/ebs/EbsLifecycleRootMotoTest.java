package org.dvdi.provider.ebs;

import static org.dvdi.provider.ebs.TestSupport.ctx;
import static org.dvdi.provider.ebs.TestSupport.opts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The whole cycle for real on this host: moto for EC2, loop devices for the attached
 * volumes (found through the provider's discovery under each device naming), mkfs and
 * mount(2) by the shared block layer. Also the volume moving with its data to another
 * instance (released there, or taken over with preempt), and the mount latencies.
 */
@RequiresRoot
@ExtendWith(MotoServer.class)
class EbsLifecycleRootMotoTest {
  @RegisterExtension
  static final Ec2Fixture.PerClass EC2 = new Ec2Fixture.PerClass(FakeHypervisor.Backing.LOOP);

  static Ec2Fixture ec2;
  static EbsProvider p;
  static Path tmp;

  @BeforeAll
  static void fixture() {
    ec2 = EC2.fixture();
    p = EC2.provider();
    tmp = EC2.dir();
  }

  @AfterEach
  void reset() {
    ec2.hypervisor.naming(FakeHypervisor.Naming.NVME_SYSFS);
  }

  private static MountedVolume up(EbsProvider provider, String name, VolumeOptions o) {
    if (provider.inspect(name, ctx()).isEmpty()) {
      provider.create(name, o, ctx());
    }
    Attachment a = provider.attach(name, o, ctx());
    MountedVolume mv = provider.mount(name, o, a, ctx());
    Map<String, String> data = new java.util.HashMap<>(a.providerData());
    data.putAll(mv.providerData());
    return new MountedVolume(mv.hostPath(), mv.device(), data);
  }

  private static void down(EbsProvider provider, String name, MountedVolume mv) {
    VolumeHandle h = new VolumeHandle(name, VolumeOptions.EMPTY, mv.hostPath(), mv.device(), mv.providerData());
    provider.unmount(h, ctx());
    provider.detach(h, ctx());
  }

  @ParameterizedTest
  @EnumSource(FakeHypervisor.Naming.class)
  void formatMountWriteReleaseAndMountAgainUnderEachDeviceNaming(FakeHypervisor.Naming naming) throws Exception {
    ec2.hypervisor.naming(naming);
    String name = "cycle-" + naming.name().toLowerCase(Locale.ROOT).replace('_', '-');
    VolumeOptions o = opts("size", "1");
    MountedVolume mv = up(p, name, o);
    assertEquals("true", mv.providerData().get(BlockVolumes.DATA_FORMATTED), "a new volume gets a filesystem");
    assertTrue(mv.device().startsWith("/dev/loop"), mv.device());
    assertEquals(tmp.resolve("mnt/ebs").resolve(name).toString(), mv.hostPath());
    KernelMounts.Mount m = KernelMounts.read().at(Path.of(mv.hostPath())).orElseThrow();
    assertEquals("ext4", m.fsType());
    Files.writeString(Path.of(mv.hostPath(), "data.txt"), "persistent\n");
    DvdiException busy = assertThrows(DvdiException.class, () -> p.detach(
        new VolumeHandle(name, o, mv.hostPath(), mv.device(), mv.providerData()), ctx()));
    assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode(), "never detached under a live filesystem");
    down(p, name, mv);
    assertFalse(KernelMounts.read().isMountPoint(Path.of(mv.hostPath())));
    assertEquals("available", p.inspect(name, ctx()).orElseThrow().status());

    MountedVolume again = up(p, name, opts("newfstype", "xfs"));
    assertEquals("false", again.providerData().get(BlockVolumes.DATA_FORMATTED), "the filesystem is kept");
    assertEquals("ext4", KernelMounts.read().at(Path.of(again.hostPath())).orElseThrow().fsType());
    assertEquals("persistent\n", Files.readString(Path.of(again.hostPath(), "data.txt")));
    down(p, name, again);
    p.remove(name, ctx());
  }

  @Test
  void newfstypeAndOverwritefs() throws Exception {
    boolean xfs = Files.exists(Path.of("/sbin/mkfs.xfs")) || Files.exists(Path.of("/usr/sbin/mkfs.xfs"));
    String fs = xfs ? "xfs" : "ext3";
    MountedVolume mv = up(p, "fmt", opts("size", "1", "newfstype", fs));
    assertEquals(fs, KernelMounts.read().at(Path.of(mv.hostPath())).orElseThrow().fsType());
    Files.writeString(Path.of(mv.hostPath(), "old"), "x");
    down(p, "fmt", mv);
    MountedVolume wiped = up(p, "fmt", opts("newfstype", "ext4", "overwritefs", "true"));
    assertEquals("ext4", KernelMounts.read().at(Path.of(wiped.hostPath())).orElseThrow().fsType());
    assertFalse(Files.exists(Path.of(wiped.hostPath(), "old")), "overwritefs=true made a new filesystem");
    down(p, "fmt", wiped);
    p.remove("fmt", ctx());
  }

  @Test
  void theDataFollowsTheVolumeToAnotherInstanceAndPreemptTakesItOver() throws Exception {
    FakeHypervisor hostB = ec2.otherHost("host-b", Ec2Fixture.ZONE);
    FakeHypervisor hostC = ec2.otherHost("host-c", Ec2Fixture.ZONE);
    try (EbsProvider b = ec2.provider(hostB, Map.of());
        EbsProvider c = ec2.provider(hostC, Map.of(EbsConfig.PREEMPT, "true"))) {
      MountedVolume onA = up(p, "moving", opts("size", "1"));
      Files.writeString(Path.of(onA.hostPath(), "f"), "written on A");
      down(p, "moving", onA);

      MountedVolume onB = up(b, "moving", VolumeOptions.EMPTY);
      assertEquals("written on A", Files.readString(Path.of(onB.hostPath(), "f")));
      assertTrue(onB.hostPath().startsWith(hostB.root().toString()), onB.hostPath());
      Files.writeString(Path.of(onB.hostPath(), "f"), "written on B");
      // B's agent dies without releasing: the volume stays attached to B (its mount is gone with it).
      b.unmount(new VolumeHandle("moving", VolumeOptions.EMPTY, onB.hostPath(), onB.device(), onB.providerData()), ctx());

      DvdiException busy = assertThrows(DvdiException.class, () -> p.attach("moving", VolumeOptions.EMPTY, ctx()));
      assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode());
      assertTrue(busy.getMessage().contains(hostB.instanceId()), busy.getMessage());

      MountedVolume onC = up(c, "moving", VolumeOptions.EMPTY);
      assertEquals("written on B", Files.readString(Path.of(onC.hostPath(), "f")));
      assertFalse(hostB.plugged(onC.providerData().get(EbsProvider.DATA_VOLUME_ID)), "force-detached from B");
      down(c, "moving", onC);
      p.remove("moving", ctx());
    }
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"ext4", "xfs"})
  void aMountedVolumeGrowsWithItsFilesystem(String fs) throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(fs.equals("ext4") || Files.exists(Path.of("/usr/sbin/mkfs.xfs"))
        || Files.exists(Path.of("/sbin/mkfs.xfs")), "mkfs.xfs is not installed");
    String name = "grow-" + fs;
    MountedVolume mv = up(p, name, opts("size", "1", "newfstype", fs));
    Files.writeString(Path.of(mv.hostPath(), "kept"), "before growing");
    long before = Files.getFileStore(Path.of(mv.hostPath())).getTotalSpace();
    VolumeHandle h = new VolumeHandle(name, VolumeOptions.EMPTY, mv.hostPath(), mv.device(), mv.providerData());
    if (fs.equals("ext4") && !hasCapability(24)) {
      // Online ext4 resize needs CAP_SYS_RESOURCE (some containers drop it): the volume
      // grows, and the error says what the filesystem lacks.
      DvdiException e = assertThrows(DvdiException.class, () -> p.grow(h, 3L << 30, ctx()));
      assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
      assertTrue(e.getMessage().contains("CAP_SYS_RESOURCE") && e.getMessage().contains("grew to 3 GiB"), e.getMessage());
      assertEquals(3L << 30, p.inspect(name, ctx()).orElseThrow().sizeBytes());
      down(p, name, mv);
      p.remove(name, ctx());
      return;
    }
    assertEquals(3L << 30, p.grow(h, 3L << 30, ctx()).sizeBytes());
    long after = Files.getFileStore(Path.of(mv.hostPath())).getTotalSpace();
    assertTrue(after > before * 2, "the filesystem grew online: " + before + " -> " + after);
    assertEquals("before growing", Files.readString(Path.of(mv.hostPath(), "kept")));
    p.grow(h, 3L << 30, ctx()); // again: already that large, nothing to do
    DvdiException shrink = assertThrows(DvdiException.class, () -> p.grow(h, 2L << 30, ctx()));
    assertEquals(ErrorCode.INVALID_REQUEST, shrink.getCode());
    down(p, name, mv);
    p.remove(name, ctx());
  }

  /** Whether this process has capability {@code bit} (CapEff in /proc/self/status). */
  private static boolean hasCapability(int bit) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("CapEff:")) {
        return (Long.parseUnsignedLong(line.substring(7).strip(), 16) >> bit & 1) == 1;
      }
    }
    return false;
  }

  /**
   * p50 of a cold mount (inspect, create, attach, mkfs, mount) and a warm mount (inspect,
   * attach, mount of an existing volume), 20 each, against moto and loop devices on this
   * host. EC2's real attach takes 1 to 4 s more; this measures dvdi's own share.
   */
  @Test
  void mountLatency() {
    int n = 20;
    List<Long> cold = new ArrayList<>();
    List<Long> warm = new ArrayList<>();
    List<Long> release = new ArrayList<>();
    VolumeOptions o = opts("size", "1");
    for (int i = 0; i < n; i++) {
      String name = "lat-" + i;
      long t0 = System.nanoTime();
      MountedVolume mv = up(p, name, o);
      cold.add(System.nanoTime() - t0);
      long t1 = System.nanoTime();
      down(p, name, mv);
      release.add(System.nanoTime() - t1);
    }
    int warmCalls = 0;
    for (int i = 0; i < n; i++) {
      String name = "lat-" + (i % 5);
      int before = ec2.faults.total();
      long t0 = System.nanoTime();
      MountedVolume mv = up(p, name, o);
      warm.add(System.nanoTime() - t0);
      warmCalls += ec2.faults.total() - before;
      assertEquals("false", mv.providerData().get(BlockVolumes.DATA_FORMATTED));
      down(p, name, mv);
    }
    for (int i = 0; i < n; i++) {
      p.remove("lat-" + i, ctx());
    }
    System.out.printf(Locale.ROOT, "EBS mount latency over %d runs (moto + loop devices): cold p50 %.1f ms (p90 %.1f),"
        + " warm p50 %.1f ms (p90 %.1f; %.1f EC2 calls each), release p50 %.1f ms%n", n, p(cold, 50), p(cold, 90),
        p(warm, 50), p(warm, 90), warmCalls / (double) n, p(release, 50));
    assertTrue(p(warm, 50) < p(cold, 50), "an existing volume mounts faster than a new one");
  }

  private static double p(List<Long> nanos, int pct) {
    List<Long> s = new ArrayList<>(nanos);
    Collections.sort(s);
    return s.get(Math.min(s.size() - 1, (s.size() * pct + 99) / 100 - 1)) / 1e6;
  }
}
