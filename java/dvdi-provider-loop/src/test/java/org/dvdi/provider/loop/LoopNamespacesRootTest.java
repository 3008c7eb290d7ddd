package org.dvdi.provider.loop;

import static org.dvdi.provider.loop.LoopProviderRootTest.ctx;
import static org.dvdi.provider.loop.LoopProviderRootTest.loop;
import static org.dvdi.provider.loop.LoopProviderRootTest.mounted;
import static org.dvdi.provider.loop.LoopProviderRootTest.opts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A device still mounted in another mount namespace (a container's bind mount of the volume)
 * is never detached, neither by a release nor by another holder's preempt: the container
 * keeps its filesystem, and a second loop device on the same image (two writers) is never made.
 */
@RequiresRoot
class LoopNamespacesRootTest {
  @TempDir
  Path tmp;

  /**
   * A process in a mount namespace of its own (private propagation, as a container's) that
   * binds {@code source} at {@code target} inside it and sleeps; returns once the bind is made.
   * (A shell is fine in a test fixture; dvdi itself never runs one.)
   */
  static Process container(Path source, Path target) throws Exception {
    Files.createDirectories(target);
    Process p = new ProcessBuilder("unshare", "--mount", "--propagation", "private", "sh", "-c",
        "mount --bind \"$0\" \"$1\" && echo ready && exec sleep 600", source.toString(), target.toString())
        .redirectErrorStream(true).start();
    String line = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
    if (!"ready".equals(line)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError("the fixture's namespace did not come up: " + line);
    }
    return p;
  }

  static void end(Process p) throws InterruptedException {
    p.destroyForcibly();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the fixture process ended");
  }

  @Test
  void finding8_aDeviceBoundInAnotherMountNamespaceIsNotDetached() throws Exception {
    VolumeProvider p = loop(tmp, "h", Map.of());
    VolumeHandle h = mounted(p, "shared", opts("size", "32MiB"));
    Path img = tmp.resolve("pool/shared.img");
    LoopDevices loops = new LoopDevices(new Commands());
    Process c = container(Path.of(h.hostPath()), tmp.resolve("container/data"));
    try {
      // Unmounting dvdi's own mount leaves the container's bind alone; the detach is what must wait.
      p.unmount(h, ctx());
      assertFalse(KernelMounts.read().isMountPoint(Path.of(h.hostPath())));
      DvdiException busy = assertThrows(DvdiException.class, () -> p.detach(h, ctx()));
      assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode(), busy.getMessage());
      assertTrue(busy.getMessage().contains("pid " + c.pid()), "names the process: " + busy.getMessage());
      assertTrue(busy.getMessage().contains("mount namespace mnt:["), busy.getMessage());
      assertEquals(List.of(h.device()), loops.backedBy(img), "still attached");
      assertEquals("h", p.inspect("shared", ctx()).orElseThrow().attachedTo(), "still held here");
    } finally {
      end(c);
    }
    p.detach(h, ctx());
    assertEquals(List.of(), loops.backedBy(img));
    p.remove("shared", ctx());
  }

  @Test
  void finding8_aPreemptDoesNotPullADeviceFromUnderAnotherNamespacesMount() throws Exception {
    VolumeProvider a = loop(tmp, "a", Map.of());
    VolumeProvider b = LoopProviderRootTest.anHourLater(tmp, "b", Map.of("preempt", "true")); // a's lease has expired for b
    VolumeOptions o = opts("size", "32MiB");
    VolumeHandle h = mounted(a, "taken", o);
    Path img = tmp.resolve("pool/taken.img");
    LoopDevices loops = new LoopDevices(new Commands());
    Process c = container(Path.of(h.hostPath()), tmp.resolve("container/taken"));
    try {
      DvdiException busy = assertThrows(DvdiException.class, () -> b.attach("taken", o, ctx()));
      assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode(), busy.getMessage());
      assertTrue(busy.getMessage().contains("pid " + c.pid()), busy.getMessage());
      assertEquals(List.of(h.device()), loops.backedBy(img), "one loop device: no second writer");
      assertEquals("a", a.inspect("taken", ctx()).orElseThrow().attachedTo(), "still held by a");
    } finally {
      end(c);
    }
    // With the container gone, the preempt goes through.
    Attachment batt = b.attach("taken", o, ctx());
    VolumeHandle bh = new VolumeHandle("taken", o, "", batt.device(), batt.providerData());
    b.unmount(bh, ctx());
    b.detach(bh, ctx());
    a.unmount(h, ctx());
    assertEquals(List.of(), loops.backedBy(img));
    a.remove("taken", ctx());
  }
}
