package org.dvdi.spi.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite every provider passes: create, mount, write, unmount, mount again
 * with the data intact, remove; each call repeated (idempotency); errors for a missing volume.
 * A provider's test extends this and supplies the provider and options.
 */
public abstract class ProviderConformance {
  private static final AtomicInteger SEQ = new AtomicInteger();

  /** The provider under test (may be the same instance for every test). */
  protected abstract VolumeProvider provider();

  /** Options for a small volume (e.g. size). */
  protected abstract VolumeOptions smallVolume();

  /** A name no other test uses. */
  protected String newName() {
    return "conf-" + ProcessHandle.current().pid() + "-" + SEQ.incrementAndGet();
  }

  protected CallContext ctx(String what) {
    return CallContext.of(Duration.ofSeconds(120), what, "conformance");
  }

  private VolumeHandle handleOf(String name, VolumeOptions o, MountedVolume mv) {
    return new VolumeHandle(name, o, mv.hostPath(), mv.device(), mv.providerData());
  }

  private MountedVolume attachAndMount(VolumeProvider p, String name, VolumeOptions o) {
    Attachment a = p.attach(name, o, ctx("attach"));
    Attachment again = p.attach(name, o, ctx("attach again"));
    assertEquals(a.device(), again.device(), "attach is idempotent");
    MountedVolume mv = p.mount(name, o, again, ctx("mount"));
    MountedVolume mv2 = p.mount(name, o, again, ctx("mount again"));
    assertEquals(mv.hostPath(), mv2.hostPath(), "mount is idempotent");
    assertTrue(Files.isDirectory(Path.of(mv.hostPath())), "mounted at a directory: " + mv.hostPath());
    return mv;
  }

  private void unmountAndDetach(VolumeProvider p, VolumeHandle h) {
    p.unmount(h, ctx("unmount"));
    p.unmount(h, ctx("unmount again"));
    p.detach(h, ctx("detach"));
    p.detach(h, ctx("detach again"));
  }

  /** Whether the provider's inspect and list see its real volumes; dvdcli's suite says no. */
  protected boolean inspects() {
    return true;
  }

  @Test
  public void createInspectListAndCreateAgain() {
    VolumeProvider p = provider();
    String name = newName();
    if (inspects()) {
      assertTrue(p.inspect(name, ctx("inspect")).isEmpty(), "not there before create");
    }
    VolumeInfo created = p.create(name, smallVolume(), ctx("create"));
    assertEquals(name, created.name());
    VolumeInfo again = p.create(name, smallVolume(), ctx("create again"));
    assertEquals(created.name(), again.name(), "create of an existing volume returns it");
    Optional<VolumeInfo> seen = p.inspect(name, ctx("inspect"));
    assertTrue(seen.isPresent(), "inspect finds it");
    if (inspects()) {
      assertTrue(p.list(ctx("list")).stream().anyMatch(v -> v.name().equals(name)), "list has it");
    }
    p.remove(name, ctx("remove"));
  }

  @Test
  public void dataSurvivesUnmountAndMountAgain() throws Exception {
    VolumeProvider p = provider();
    String name = newName();
    VolumeOptions o = smallVolume();
    p.create(name, o, ctx("create"));
    MountedVolume mv = attachAndMount(p, name, o);
    Files.writeString(Path.of(mv.hostPath(), "conformance.txt"), "kept\n");
    VolumeHandle h = handleOf(name, o, mv);
    unmountAndDetach(p, h);
    if (p.capabilities().kernelMounts()) {
      assertFalse(Files.exists(Path.of(mv.hostPath(), "conformance.txt")), "unmounted: the data is not at the mount point");
    }
    MountedVolume again = attachAndMount(p, name, o);
    assertEquals("kept\n", Files.readString(Path.of(again.hostPath(), "conformance.txt")), "data intact after re-mount");
    unmountAndDetach(p, handleOf(name, o, again));
    p.remove(name, ctx("remove"));
    if (inspects()) {
      assertTrue(p.inspect(name, ctx("inspect")).isEmpty(), "gone after remove");
    }
  }

  @Test
  public void missingVolumeErrors() {
    VolumeProvider p = provider();
    String name = newName();
    if (inspects()) {
      assertTrue(p.inspect(name, ctx("inspect")).isEmpty());
    }
    DvdiException rm = assertThrows(DvdiException.class, () -> p.remove(name, ctx("remove")));
    assertEquals(ErrorCode.VOLUME_NOT_FOUND, rm.getCode(), rm.getMessage());
    // Explicit creation: a provider that creates on mount (dvdcli) must not create it either.
    VolumeOptions explicit = smallVolume().withExplicitCreate(true);
    DvdiException mount = assertThrows(DvdiException.class, () -> {
      Attachment a = p.attach(name, explicit, ctx("attach"));
      p.mount(name, explicit, a, ctx("mount"));
    });
    assertEquals(ErrorCode.VOLUME_NOT_FOUND, mount.getCode(), mount.getMessage());
    // Releasing what is not there is success (idempotent), not an error.
    VolumeHandle h = new VolumeHandle(name, smallVolume(), "", "", java.util.Map.of());
    p.unmount(h, ctx("unmount"));
    p.detach(h, ctx("detach"));
  }

  @Test
  public void removeOfAMountedVolumeIsRefused() {
    VolumeProvider p = provider();
    String name = newName();
    VolumeOptions o = smallVolume();
    p.create(name, o, ctx("create"));
    MountedVolume mv = attachAndMount(p, name, o);
    DvdiException busy = assertThrows(DvdiException.class, () -> p.remove(name, ctx("remove")));
    assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode(), busy.getMessage());
    unmountAndDetach(p, handleOf(name, o, mv));
    p.remove(name, ctx("remove"));
  }
}
