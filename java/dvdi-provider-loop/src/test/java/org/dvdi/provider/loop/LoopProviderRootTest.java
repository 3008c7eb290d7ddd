package org.dvdi.provider.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loop pool's own rules: one holder at a time, preempt, formats, sizes. */
@RequiresRoot
class LoopProviderRootTest {
  @TempDir
  Path tmp;

  static CallContext ctx() {
    return CallContext.of(Duration.ofSeconds(60), "test", "test");
  }

  static VolumeOptions opts(String... kv) {
    java.util.LinkedHashMap<String, String> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return new VolumeOptions(m, "DVDI_VOLUME_OPTS");
  }

  /** A loop provider on this test's pool, as agent {@code instance}. */
  static VolumeProvider loop(Path tmp, String instance, Map<String, String> settings) {
    return new LoopProviderFactory().create("loop", LoopProviderConformanceRootTest.context(tmp, instance, settings));
  }

  /**
   * A loop provider on this test's pool, as agent {@code instance} of this host, acting an hour
   * from now: every other agent's lease has expired for it (without a sleep), so its preempt
   * goes through.
   */
  static VolumeProvider anHourLater(Path tmp, String instance, Map<String, String> settings) {
    LoopProvider.HostView here = LoopProvider.HostView.real(new org.dvdi.spi.host.Commands());
    return new LoopProvider("loop", LoopProviderConformanceRootTest.context(tmp, instance, settings),
        new LoopProvider.HostView(() -> System.currentTimeMillis() + 3_600_000, here.bootId(), here.loops()), false);
  }

  /** Creates, attaches and mounts {@code name}; returns the handle that unmounts and detaches it. */
  static VolumeHandle mounted(VolumeProvider p, String name, VolumeOptions o) {
    p.create(name, o, ctx());
    Attachment att = p.attach(name, o, ctx());
    MountedVolume mv = p.mount(name, o, att, ctx());
    return new VolumeHandle(name, o, mv.hostPath(), mv.device(), mv.providerData());
  }

  @Test
  void secondHolderIsRefusedUnlessPreempt() throws Exception {
    VolumeProvider a = new LoopProviderFactory().create("loop", LoopProviderConformanceRootTest.context(tmp, "agent-a", Map.of()));
    VolumeProvider b = new LoopProviderFactory().create("loop", LoopProviderConformanceRootTest.context(tmp, "agent-b", Map.of()));
    VolumeProvider c = anHourLater(tmp, "agent-c", Map.of("preempt", "true"));
    VolumeOptions o = opts("size", "32MiB");
    a.create("moving", o, ctx());
    Attachment att = a.attach("moving", o, ctx());
    MountedVolume mv = a.mount("moving", o, att, ctx());
    Files.writeString(Path.of(mv.hostPath(), "f"), "from a");

    DvdiException busy = assertThrows(DvdiException.class, () -> b.attach("moving", o, ctx()));
    assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode());
    assertTrue(busy.getMessage().contains("agent-a"), "names the holder: " + busy.getMessage());
    assertEquals("agent-a", b.inspect("moving", ctx()).orElseThrow().attachedTo());
    // b's failed attempt must not have touched a's device or mount.
    b.detach(new VolumeHandle("moving", o, "", "", Map.of()), ctx());
    assertTrue(KernelMounts.read().isMountPoint(Path.of(mv.hostPath())), "a's mount is intact");

    // Once a's lease has expired, preempt takes it over (c is on a's host): a's mount is gone, c has the data.
    Attachment catt = c.attach("moving", o, ctx());
    assertFalse(KernelMounts.read().isMountPoint(Path.of(mv.hostPath())), "a's mount was force-released");
    MountedVolume cmv = c.mount("moving", o, catt, ctx());
    assertEquals("from a", Files.readString(Path.of(cmv.hostPath(), "f")));
    assertEquals("agent-c", a.inspect("moving", ctx()).orElseThrow().attachedTo());
    VolumeHandle ch = new VolumeHandle("moving", o, cmv.hostPath(), cmv.device(), cmv.providerData());
    c.unmount(ch, ctx());
    c.detach(ch, ctx());
    assertEquals("", a.inspect("moving", ctx()).orElseThrow().attachedTo(), "released by c");
    a.unmount(new VolumeHandle("moving", o, mv.hostPath(), mv.device(), mv.providerData()), ctx());
    a.remove("moving", ctx());
  }

  @Test
  void formatsWithTheRequestedFilesystemAndOverwritesOnlyWhenAsked() throws Exception {
    VolumeProvider p = new LoopProviderFactory().create("loop", LoopProviderConformanceRootTest.context(tmp, "h", Map.of()));
    String fs = Files.exists(Path.of("/sbin/mkfs.xfs")) || Files.exists(Path.of("/usr/sbin/mkfs.xfs")) ? "xfs" : "ext3";
    VolumeOptions o = opts("size", "320MiB", "newfstype", fs);
    p.create("fmt", o, ctx());
    Attachment a = p.attach("fmt", o, ctx());
    MountedVolume mv = p.mount("fmt", o, a, ctx());
    assertEquals(fs, KernelMounts.read().at(Path.of(mv.hostPath())).orElseThrow().fsType());
    Files.writeString(Path.of(mv.hostPath(), "data"), "x");
    VolumeHandle h = new VolumeHandle("fmt", o, mv.hostPath(), mv.device(), mv.providerData());
    p.unmount(h, ctx());
    // Mounting again with another newfstype keeps the existing filesystem and data.
    VolumeOptions other = opts("newfstype", "ext4");
    MountedVolume again = p.mount("fmt", other, a, ctx());
    assertEquals(fs, KernelMounts.read().at(Path.of(again.hostPath())).orElseThrow().fsType());
    assertTrue(Files.exists(Path.of(again.hostPath(), "data")));
    p.unmount(h, ctx());
    // overwritefs=true makes a new filesystem: the data is gone.
    MountedVolume wiped = p.mount("fmt", opts("newfstype", "ext4", "overwritefs", "true"), a, ctx());
    assertEquals("ext4", KernelMounts.read().at(Path.of(wiped.hostPath())).orElseThrow().fsType());
    assertFalse(Files.exists(Path.of(wiped.hostPath(), "data")));
    p.unmount(h, ctx());
    p.detach(h, ctx());
    p.remove("fmt", ctx());
  }

  @Test
  void finding8_blockVolumesAreMountedNosuidNodev() {
    VolumeProvider p = loop(tmp, "h", Map.of());
    VolumeHandle h = mounted(p, "opts", opts("size", "32MiB"));
    List<String> options = List.of(KernelMounts.read().at(Path.of(h.hostPath())).orElseThrow().options().split(","));
    assertTrue(options.contains("nosuid") && options.contains("nodev"), "mount options: " + options);
    p.unmount(h, ctx());
    p.detach(h, ctx());
    p.remove("opts", ctx());
  }

  @Test
  void badOptionsAreRejectedBeforeAnythingIsDone() {
    VolumeProvider p = new LoopProviderFactory().create("loop", LoopProviderConformanceRootTest.context(tmp, "h", Map.of()));
    DvdiException e1 = assertThrows(DvdiException.class, () -> p.validate("v", opts("size", "lots")));
    assertTrue(e1.getMessage().contains("'size'"), e1.getMessage());
    DvdiException e2 = assertThrows(DvdiException.class, () -> p.validate("v", opts("size", "1000000")));
    assertTrue(e2.getMessage().contains("max-size"), e2.getMessage());
    DvdiException e3 = assertThrows(DvdiException.class, () -> p.validate("v", opts("newfstype", "ntfs")));
    assertTrue(e3.getMessage().contains("newfstype"), e3.getMessage());
    DvdiException e4 = assertThrows(DvdiException.class, () -> p.validate("v", opts("sise", "1")));
    assertEquals(ErrorCode.INVALID_REQUEST, e4.getCode());
    assertTrue(e4.getMessage().contains("'sise'"), e4.getMessage());
    assertFalse(Files.exists(tmp.resolve("pool").resolve("v.img")));
  }
}
