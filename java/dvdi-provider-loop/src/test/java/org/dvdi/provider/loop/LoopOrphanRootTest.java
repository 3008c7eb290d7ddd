package org.dvdi.provider.loop;

import static org.dvdi.provider.loop.LoopProviderRootTest.ctx;
import static org.dvdi.provider.loop.LoopProviderRootTest.opts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.testing.DiskImages;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pool's files of one volume are its image and its metadata; only "no such file" means
 * a file is absent. An image without metadata (data whose owner dvdi does not know) is never
 * replaced, formatted nor used until the operator adopts it; metadata without an image is
 * refused too; a file that cannot be looked at is an error, never "absent".
 */
@RequiresRoot
class LoopOrphanRootTest {
  @TempDir
  Path tmp;

  VolumeProvider provider() {
    return LoopProviderRootTest.loop(tmp, "h", Map.of());
  }

  Path pool() {
    return tmp.resolve("pool");
  }

  /** A real 32 MiB ext4 image in the pool holding file {@code f} with {@code text}, and no metadata. */
  Path ext4Image(String name, String text) throws Exception {
    Path img = Files.createDirectories(pool()).resolve(name + ".img");
    DiskImages.writeExt4WithFile(img, 32L << 20, "f", text);
    return img;
  }

  /** {@code call} is refused with PROVIDER_FAILURE naming {@code file} and containing {@code how}. */
  static DvdiException refused(Runnable call, Path file, String how) {
    DvdiException e = assertThrows(DvdiException.class, call::run);
    assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode(), e.getMessage());
    assertTrue(e.getMessage().contains(file.toString()), "names " + file + ": " + e.getMessage());
    assertTrue(e.getMessage().contains(how), "says '" + how + "': " + e.getMessage());
    return e;
  }

  @Test
  void anImageWithoutMetadataIsNeitherReplacedNorUsedUntilAdopted() throws Exception {
    VolumeProvider p = provider();
    Path img = ext4Image("precious", "precious data\n");
    String before = DiskImages.sha256(img);
    VolumeOptions o = opts("size", "32MiB");
    String how = "dvdi create loop/precious -O adopt=true";

    // As the engine does: inspect, create when absent, attach, mount.
    refused(() -> p.inspect("precious", ctx()), img, how);
    refused(() -> p.create("precious", o, ctx()), img, how);
    refused(() -> p.attach("precious", o, ctx()), img, how);
    assertEquals(before, DiskImages.sha256(img), "the image is unchanged");
    assertFalse(Files.exists(pool().resolve("precious.meta")), "no metadata was made up for it");
    assertTrue(LeakCheck.loops().stream().noneMatch(l -> l.endsWith(img.toString())), "nothing attached");

    // list reports it, with how to adopt it.
    VolumeInfo listed = p.list(ctx()).stream().filter(v -> v.name().equals("precious")).findFirst().orElseThrow();
    assertEquals(LoopPool.Presence.NO_METADATA.status(), listed.status());
    assertTrue(listed.details().get("problem").contains(how), listed.details().toString());

    // The operator adopts it (a task cannot: its request stops at inspect, above).
    VolumeInfo adopted = p.create("precious", opts("adopt", "true"), ctx());
    assertEquals(32L << 20, adopted.sizeBytes());
    assertEquals(before, DiskImages.sha256(img), "adopting writes nothing into the image");
    assertEquals("available", p.inspect("precious", ctx()).orElseThrow().status());
    Attachment att = p.attach("precious", o, ctx());
    VolumeHandle h = new VolumeHandle("precious", o, "", att.device(), att.providerData());
    try {
      MountedVolume mv = p.mount("precious", o, att, ctx());
      assertEquals("false", mv.providerData().get(BlockVolumes.DATA_FORMATTED), "not formatted");
      assertEquals("precious data\n", Files.readString(Path.of(mv.hostPath(), "f")));
    } finally {
      p.unmount(h, ctx());
      p.detach(h, ctx());
    }
    p.remove("precious", ctx());
    assertFalse(Files.exists(img));
  }

  @Test
  void adoptIsOnlyForAnImageWithoutMetadata() throws Exception {
    VolumeProvider p = provider();
    DvdiException nothing = assertThrows(DvdiException.class, () -> p.create("none", opts("adopt", "true"), ctx()));
    assertEquals(ErrorCode.VOLUME_NOT_FOUND, nothing.getCode(), nothing.getMessage());
    assertTrue(nothing.getMessage().contains(pool().resolve("none.img").toString()), nothing.getMessage());
    assertFalse(Files.exists(pool().resolve("none.img")), "adopt never creates an image");
    // On a volume that exists, adopt changes nothing.
    p.create("v", opts("size", "32MiB"), ctx());
    assertEquals(LoopProvider.MIN_SIZE * 2, p.create("v", opts("adopt", "true", "size", "64MiB"), ctx()).sizeBytes());
    p.remove("v", ctx());
  }

  @Test
  void metadataWithoutAnImageIsRefusedAndRemoveClearsIt() throws Exception {
    VolumeProvider p = provider();
    p.create("lost", opts("size", "32MiB"), ctx());
    Files.delete(pool().resolve("lost.img"));
    Path meta = pool().resolve("lost.meta");
    String how = "dvdi remove loop/lost";
    refused(() -> p.inspect("lost", ctx()), meta, how);
    refused(() -> p.create("lost", opts("size", "32MiB"), ctx()), meta, how);
    refused(() -> p.create("lost", opts("adopt", "true"), ctx()), meta, how);
    refused(() -> p.attach("lost", opts(), ctx()), meta, how);
    assertFalse(Files.exists(pool().resolve("lost.img")), "no empty image was made in its place");
    VolumeInfo listed = p.list(ctx()).stream().filter(v -> v.name().equals("lost")).findFirst().orElseThrow();
    assertEquals(LoopPool.Presence.NO_IMAGE.status(), listed.status());
    p.remove("lost", ctx());
    assertTrue(p.inspect("lost", ctx()).isEmpty());
    assertFalse(Files.exists(meta));
  }

  @Test
  void aFileThatCannotBeLookedAtIsAnErrorNotAbsent() throws Exception {
    VolumeProvider p = provider();
    Path img = ext4Image("eloop", "data\n");
    String before = DiskImages.sha256(img);
    Path meta = pool().resolve("eloop.meta");
    Files.createSymbolicLink(meta, meta.getFileName()); // every open of it fails with ELOOP
    refused(() -> p.inspect("eloop", ctx()), meta, "cannot read");
    refused(() -> p.create("eloop", opts("size", "32MiB"), ctx()), meta, "cannot read");
    assertEquals(before, DiskImages.sha256(img), "the image is unchanged");
    Files.delete(meta);
    Files.delete(img);
  }

  @Test
  void anInterruptedCreateIsFinishedByTheNextOne() throws Exception {
    VolumeProvider p = provider();
    p.create("half", opts("size", "32MiB"), ctx());
    LoopPool pool = new LoopPool(pool(), "loop", System::currentTimeMillis);
    LoopPool.Meta m = pool.read("half").orElseThrow();
    // The states a crash inside create leaves: metadata saying "creating", with or without
    // the image (and a temporary image beside it).
    for (boolean withImage : new boolean[] {true, false}) {
      pool.write(m.asCreating());
      if (!withImage) {
        Files.delete(pool().resolve("half.img"));
        Files.writeString(pool().resolve(".half.img.new"), "left by a crash");
      }
      assertTrue(p.inspect("half", ctx()).isEmpty(), "a volume being created does not exist yet");
      assertEquals(m.sizeBytes(), p.create("half", opts("size", "48MiB"), ctx()).sizeBytes());
      assertEquals("available", p.inspect("half", ctx()).orElseThrow().status());
      assertFalse(Files.exists(pool().resolve(".half.img.new")));
      assertEquals(m.sizeBytes(), Files.size(pool().resolve("half.img")));
    }
    p.remove("half", ctx());
  }
}
