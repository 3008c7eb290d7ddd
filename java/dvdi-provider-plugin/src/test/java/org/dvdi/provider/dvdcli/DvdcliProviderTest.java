package org.dvdi.provider.dvdcli;

import static org.dvdi.provider.plugin.TestContexts.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.provider.plugin.TestContexts;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dvdcli provider against a fake dvdcli that records its argument vector. */
class DvdcliProviderTest {
  @TempDir
  Path tmp;

  FakeDvdcli dvdcli;
  VolumeProvider p;

  @BeforeEach
  void install() throws Exception {
    dvdcli = FakeDvdcli.install(tmp, "rexray");
    p = dvdcli.provider("rexray");
  }

  static VolumeOptions opts(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return new VolumeOptions(m, "DVDI_VOLUME_OPTS");
  }

  static DvdiException fails(ErrorCode code, Runnable r) {
    DvdiException e = assertThrows(DvdiException.class, r::run);
    assertEquals(code, e.getCode(), e.getMessage());
    return e;
  }

  static VolumeHandle handle(String name) {
    return new VolumeHandle(name, VolumeOptions.EMPTY, "", "", Map.of());
  }

  @Test
  void thePathSettingMustBeAnAbsoluteExecutableFile() throws Exception {
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put(tmp.resolve("nope").toString(), "must be an executable file");
    cases.put("bin/dvdcli", "must be an absolute path");
    Path plain = Files.writeString(tmp.resolve("plain"), "#!/bin/sh\n");
    cases.put(plain.toString(), "must be an executable file");
    cases.put(tmp.toString(), "must be an executable file");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      DvdiException e = fails(ErrorCode.INVALID_CONFIG,
          () -> new DvdcliProviderFactory().create("rexray", TestContexts.of(Map.of("path", c.getKey()))));
      assertTrue(e.getMessage().contains("'path'") && e.getMessage().contains(c.getValue()), e.getMessage());
    }
    fails(ErrorCode.INVALID_CONFIG, () -> new DvdcliProviderFactory().create("rexray",
        TestContexts.of(Map.of("path", dvdcli.binary.toString(), "paht", "/x"))));
  }

  @Test
  void mountRunsExactlyTheArgumentVectorWithoutAShell() throws Exception {
    VolumeOptions o = opts("size", "5", "volumetype", "io1", "odd", "a;b|c&$(id)*`x`<y>");
    MountedVolume mv = p.mount("web.data_1", o, null, ctx(5000));
    assertEquals(List.of("mount", "--volumedriver=rexray", "--volumename=web.data_1", "--volumeopts=size=5",
        "--volumeopts=volumetype=io1", "--volumeopts=odd=a;b|c&$(id)*`x`<y>"), dvdcli.argv());
    assertEquals(dvdcli.volumeDir("web.data_1").toString(), mv.hostPath(), "the last non-empty line of stdout");
    p.mount("web.data_1", o.withExplicitCreate(true), null, ctx(5000));
    assertEquals(List.of("mount", "--volumedriver=rexray", "--volumename=web.data_1", "--volumeopts=size=5",
        "--volumeopts=volumetype=io1", "--volumeopts=odd=a;b|c&$(id)*`x`<y>", "--explicitcreate"), dvdcli.argv());
    p.unmount(handle("web.data_1"), ctx(5000));
    assertEquals(List.of("unmount", "--volumedriver=rexray", "--volumename=web.data_1"), dvdcli.argv());
    p.create("other", opts("size", "1"), ctx(5000));
    assertEquals(List.of("create", "--volumedriver=rexray", "--volumename=other", "--volumeopts=size=1"), dvdcli.argv());
    p.remove("other", ctx(5000));
    assertEquals(List.of("remove", "--volumedriver=rexray", "--volumename=other"), dvdcli.argv());
  }

  @Test
  void validateRefusesWhatDvdcliWouldMangle() {
    p.validate("ok-1", opts("size", "5", "path", "/a:b@c+d"));
    for (VolumeOptions bad : List.of(opts("k", "a,b"), opts("k", "a=b"), opts("k", "a b"), opts("k", "\"q\""))) {
      DvdiException e = fails(ErrorCode.INVALID_REQUEST, () -> p.validate("ok-1", bad));
      assertTrue(e.getMessage().contains("DVDI_VOLUME_OPTS option 'k=") && e.getMessage().contains("dvdcli splits"), e.getMessage());
    }
    fails(ErrorCode.INVALID_REQUEST, () -> p.validate("-rf", VolumeOptions.EMPTY));
    fails(ErrorCode.INVALID_REQUEST, () -> p.validate("a/b", VolumeOptions.EMPTY));
  }

  @Test
  void inspectRunsNothingAndSaysUnknownListIsRefused() throws Exception {
    VolumeInfo info = p.inspect("anything", ctx(5000)).orElseThrow();
    assertEquals(DvdcliProvider.STATUS_UNKNOWN, info.status());
    assertEquals(0, dvdcli.runs(), "inspect ran nothing");
    DvdiException e = fails(ErrorCode.INVALID_REQUEST, () -> p.list(ctx(5000)));
    assertTrue(e.getMessage().contains("cannot list volumes") && e.getMessage().contains("drivers.rexray = plugin"), e.getMessage());
  }

  @Test
  void mountCreatesAMissingVolumeUnlessCreationIsExplicit() throws Exception {
    DvdiException e = fails(ErrorCode.VOLUME_NOT_FOUND,
        () -> p.mount("ghost", opts("size", "1").withExplicitCreate(true), null, ctx(5000)));
    assertTrue(e.getMessage().contains("rexray/ghost") && e.getMessage().contains("no such volume")
        && e.getMessage().contains("--explicitcreate"), e.getMessage());
    assertFalse(Files.exists(dvdcli.volumeDir("ghost")));
    assertEquals(dvdcli.volumeDir("ghost").toString(), p.mount("ghost", opts("size", "1"), null, ctx(5000)).hostPath());
  }

  @Test
  void aMissingPluginIsAProviderFailureNotAMissingVolume() throws Exception {
    VolumeProvider other = dvdcli.provider("nosuchdriver");
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE,
        () -> other.mount("v", VolumeOptions.EMPTY.withExplicitCreate(true), null, ctx(5000)));
    assertTrue(e.getMessage().contains("found no Docker volume plugin 'nosuchdriver'"), e.getMessage());
  }

  @Test
  void failuresCarryDvdcliStderr() throws Exception {
    dvdcli.fault("fail", true);
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> p.mount("v", VolumeOptions.EMPTY, null, ctx(5000)));
    assertTrue(e.getMessage().startsWith("dvdcli mount of volume rexray/v failed: " + dvdcli.binary + " mount --volumedriver=rexray"),
        e.getMessage());
    assertTrue(e.getMessage().contains("exited 1: time=\"2024-05-01T10:00:00Z\" level=error msg=\"backend exploded: quota exceeded\""),
        e.getMessage());
    fails(ErrorCode.PROVIDER_FAILURE, () -> p.unmount(handle("v"), ctx(5000)));
  }

  @Test
  void aHungDvdcliTimesOutAndIsKilled() throws Exception {
    dvdcli.fault("sleep", true);
    long t = System.nanoTime();
    DvdiException e = fails(ErrorCode.TIMEOUT, () -> p.mount("v", VolumeOptions.EMPTY, null, ctx(700)));
    long ms = (System.nanoTime() - t) / 1_000_000;
    assertTrue(ms >= 650 && ms < 2500, "timed out after " + ms + " ms");
    assertTrue(e.getMessage().contains("did not finish within") && e.getMessage().contains("killed"), e.getMessage());
    assertFalse(ProcessHandle.of(dvdcli.pid()).map(ProcessHandle::isAlive).orElse(false), "the hung dvdcli is gone");
  }

  @Test
  void removeAndUnmountMapMissingAndBusy() throws Exception {
    fails(ErrorCode.VOLUME_NOT_FOUND, () -> p.remove("ghost", ctx(5000)));
    p.unmount(handle("ghost"), ctx(5000)); // idempotent: nothing to unmount
    p.mount("b", VolumeOptions.EMPTY, null, ctx(5000));
    DvdiException busy = fails(ErrorCode.VOLUME_BUSY, () -> p.remove("b", ctx(5000)));
    assertTrue(busy.getMessage().contains("volume is in use"), busy.getMessage());
    p.unmount(handle("b"), ctx(5000));
    assertFalse(dvdcli.mounted("b"));
    p.remove("b", ctx(5000));
    assertFalse(Files.exists(dvdcli.volumeDir("b")));
  }

  @Test
  void aMountThatPrintsNoPathIsAskedWithPath() throws Exception {
    dvdcli.fault("nopath", true);
    assertEquals(dvdcli.volumeDir("np").toString(), p.mount("np", VolumeOptions.EMPTY, null, ctx(5000)).hostPath());
    assertEquals(List.of("path", "--volumedriver=rexray", "--volumename=np"), dvdcli.argv());
  }

  /** What the conformance tests that need inspect check, as far as dvdcli can: the data lifecycle and missing volumes. */
  @Test
  void dataSurvivesUnmountAndMountAgainAndRemoveDeletes() throws Exception {
    VolumeOptions o = opts("size", "1");
    p.create("life", o, ctx(5000));
    MountedVolume mv = p.mount("life", o.withExplicitCreate(true), null, ctx(5000));
    Files.writeString(Path.of(mv.hostPath(), "kept.txt"), "kept\n");
    p.unmount(handle("life"), ctx(5000));
    p.unmount(handle("life"), ctx(5000));
    MountedVolume again = p.mount("life", o.withExplicitCreate(true), null, ctx(5000));
    assertEquals("kept\n", Files.readString(Path.of(again.hostPath(), "kept.txt")));
    p.unmount(handle("life"), ctx(5000));
    p.remove("life", ctx(5000));
    fails(ErrorCode.VOLUME_NOT_FOUND, () -> p.mount("life", o.withExplicitCreate(true), null, ctx(5000)));
  }
}
