package org.dvdi.provider.loop;

import static org.dvdi.provider.loop.LoopProviderRootTest.ctx;
import static org.dvdi.provider.loop.LoopProviderRootTest.opts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.DiskImages;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device that carries any signature (partition table, crypto header, swap, ...) is never
 * formatted unless overwritefs asks for it, and a device that cannot be probed is an error,
 * never "empty": on real loop devices over pool images, whose bytes are compared afterwards.
 */
@RequiresRoot
class LoopSignaturesRootTest {
  @TempDir
  Path tmp;

  VolumeProvider provider() {
    return new LoopProviderFactory().create("loop", LoopProviderConformanceRootTest.context(tmp, "h", Map.of()));
  }

  Path image(String name) {
    return tmp.resolve("pool").resolve(name + ".img");
  }

  /** Writes a signature into a volume's image. */
  interface Signer {
    void sign(Path image) throws Exception;
  }

  /**
   * Creates volume {@code name} and lets {@code signer} write into its image; then attaches
   * and mounts it with each of {@code tries}, which must fail with INVALID_REQUEST, and
   * detaches it as the engine's undo does. Checks that no byte of the image changed and that
   * nothing is left mounted or attached; removes the volume; returns the first error.
   */
  DvdiException refused(String name, Signer signer, VolumeOptions... tries) throws Exception {
    VolumeProvider p = provider();
    p.create(name, opts("size", "32MiB"), ctx());
    signer.sign(image(name));
    String before = DiskImages.sha256(image(name));
    DvdiException first = null;
    for (VolumeOptions o : tries) {
      Attachment att = p.attach(name, o, ctx());
      try {
        DvdiException e = assertThrows(DvdiException.class, () -> p.mount(name, o, att, ctx()));
        assertEquals(ErrorCode.INVALID_REQUEST, e.getCode(), e.getMessage());
        first = first == null ? e : first;
      } finally {
        VolumeHandle h = new VolumeHandle(name, o, "", att.device(), att.providerData());
        p.unmount(h, ctx());
        p.detach(h, ctx());
      }
      assertFalse(KernelMounts.read().isMountPoint(tmp.resolve("mnt-h/loop").resolve(name)), "nothing mounted");
      assertEquals(List.of(), new LoopDevices(new Commands()).backedBy(image(name)), "nothing attached");
    }
    assertEquals(before, DiskImages.sha256(image(name)), "the image is unchanged");
    p.remove(name, ctx());
    return first;
  }

  static void run(String... argv) {
    new Commands().check(List.of(argv), ctx(), "test fixture " + argv[0]);
  }

  @Test
  void finding1_partitionTableIsNeverFormatted() throws Exception {
    // Also not with another newfstype asked for.
    DvdiException e = refused("parted", DiskImages::writeMbrWithData, opts(), opts("newfstype", "xfs"));
    assertTrue(e.getMessage().contains("has a dos partition table (PTTYPE=dos"), e.getMessage());
    assertTrue(e.getMessage().contains("refusing to make a filesystem on it"), e.getMessage());
    assertTrue(e.getMessage().contains("overwritefs"), "says how to proceed: " + e.getMessage());
  }

  @Test
  void finding1_luksHeaderIsNeverFormattedNorMountedAsTheFilesystemUnderIt() throws Exception {
    DvdiException e = refused("secret", DiskImages::writeLuksHeaderWithData, opts());
    assertTrue(e.getMessage().contains("crypto_LUKS"), e.getMessage());
    assertTrue(e.getMessage().contains("USAGE=crypto"), e.getMessage());
    // A filesystem with a LUKS header written over its start: neither formatted nor mounted.
    DvdiException both = refused("both", img -> {
      run("mkfs.ext4", "-q", "-F", img.toString());
      DiskImages.writeLuksHeaderWithData(img);
    }, opts());
    assertTrue(both.getMessage().contains("crypto_LUKS") && both.getMessage().contains("ext4"), both.getMessage());
  }

  @Test
  void finding1_swapSignatureIsNeverFormatted() throws Exception {
    DvdiException e = refused("swap", img -> run("mkswap", img.toString()), opts());
    assertTrue(e.getMessage().contains("has a swap signature (TYPE=swap, USAGE=other"), e.getMessage());
  }

  @Test
  void finding1_overwritefsWipesEverySignatureAndWarnsNamingIt() throws Exception {
    VolumeProvider p = provider();
    VolumeOptions o = opts("size", "32MiB", "overwritefs", "true");
    p.create("reuse", o, ctx());
    DiskImages.writeMbrWithData(image("reuse"));
    Attachment att = p.attach("reuse", o, ctx());
    MountedVolume[] mounted = new MountedVolume[1];
    List<String> warnings = LogCapture.warnings(BlockVolumes.class, () -> mounted[0] = p.mount("reuse", o, att, ctx()));
    MountedVolume mv = mounted[0];
    assertEquals("ext4", KernelMounts.read().at(Path.of(mv.hostPath())).orElseThrow().fsType());
    assertTrue(warnings.stream().anyMatch(w -> w.contains("overwritefs") && w.contains("dos partition table")),
        "warns naming what it destroys: " + warnings);
    VolumeHandle vh = new VolumeHandle("reuse", o, mv.hostPath(), mv.device(), mv.providerData());
    p.unmount(vh, ctx());
    // Only the new filesystem is left: the partition table was wiped, not kept beside it.
    Commands.Result w = new Commands().check(List.of("wipefs", "--no-act", "--parsable", "--noheadings",
        "--output", "TYPE", image("reuse").toString()), ctx(), "test wipefs");
    assertEquals("ext4", w.stdout().strip());
    // Mounting again without overwritefs keeps that filesystem.
    VolumeOptions plain = opts("size", "32MiB");
    MountedVolume again = p.mount("reuse", plain, att, ctx());
    assertEquals("false", again.providerData().get(BlockVolumes.DATA_FORMATTED));
    p.unmount(vh, ctx());
    p.detach(vh, ctx());
    p.remove("reuse", ctx());
  }

  @Test
  void finding1_aPathThatIsNotABlockDeviceIsAnErrorNeverFormatted() throws IOException {
    BlockVolumes block = new BlockVolumes(new Commands());
    Path file = tmp.resolve("not-a-device");
    byte[] data = new byte[32 << 20];
    byte[] text = "data, not a device\n".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(text, 0, data, 0, text.length);
    Files.write(file, data);
    String before = DiskImages.sha256(file);
    Path target = tmp.resolve("target");
    DvdiException e = assertThrows(DvdiException.class, () -> block.mountDevice(file.toString(), target, opts(), ctx()));
    assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode(), e.getMessage());
    assertTrue(e.getMessage().contains("is not a block device"), e.getMessage());
    assertEquals(before, DiskImages.sha256(file), "not formatted");
    assertFalse(KernelMounts.read().isMountPoint(target));

    DvdiException missing = assertThrows(DvdiException.class,
        () -> block.mountDevice(tmp.resolve("no-such-device").toString(), target, opts(), ctx()));
    assertEquals(ErrorCode.PROVIDER_FAILURE, missing.getCode(), missing.getMessage());
    assertTrue(missing.getMessage().contains("cannot probe"), missing.getMessage());
    assertFalse(Files.exists(tmp.resolve("no-such-device")), "mkfs did not make it a file");
  }
}
