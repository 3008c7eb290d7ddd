package org.dvdi.provider.loop;

import static org.dvdi.provider.loop.LoopProviderRootTest.ctx;
import static org.dvdi.provider.loop.LoopProviderRootTest.mounted;
import static org.dvdi.provider.loop.LoopProviderRootTest.opts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hosts that share a pool: a holder's lease in the pool record, and a preempt from another
 * host only after that lease has expired. Two hosts are modelled on this machine: each sees
 * only the loop devices it attached itself (as a real host sees only its own), and both read
 * one clock that the test moves.
 */
@RequiresRoot
class LoopLeaseRootTest {
  static final long LEASE_MS = 60_000;

  @TempDir
  Path tmp;

  /** The clock both hosts read (in sync, as NTP keeps real hosts). */
  final AtomicLong now = new AtomicLong(1_700_000_000_000L);

  /** The loop devices one host sees: those it attached itself. */
  static final class HostLoops extends LoopDevices {
    final Set<String> mine = ConcurrentHashMap.newKeySet();

    HostLoops() {
      super(new Commands());
    }

    @Override
    public List<String> backedBy(Path image) {
      return super.backedBy(image).stream().filter(mine::contains).toList();
    }

    @Override
    public String attach(Path image, CallContext ctx) {
      String dev = super.attach(image, ctx);
      mine.add(dev);
      return dev;
    }

    @Override
    public void detach(String device, CallContext ctx) {
      super.detach(device, ctx);
      mine.remove(device);
    }
  }

  /** One host of the pool: its agent's provider and the devices it sees. */
  record Host(LoopProvider provider, HostLoops loops) {}

  Host host(String instance, Map<String, String> settings) {
    return host(instance, "boot-of-" + instance, new HostLoops(), settings);
  }

  /** An agent on a host of boot {@code boot} that sees {@code loops} (two agents of one host share them). */
  Host host(String instance, String boot, HostLoops loops, Map<String, String> settings) {
    LoopProvider p = new LoopProvider("loop", LoopProviderConformanceRootTest.context(tmp, instance, settings),
        new LoopProvider.HostView(now::get, boot, loops), false);
    return new Host(p, loops);
  }

  /** Agent a, the first holder, and agent b on another host, which may preempt. */
  Host a;
  Host b;
  final VolumeOptions o = opts("size", "32MiB");

  @BeforeEach
  void hosts() {
    a = host("agent-a", Map.of());
    b = host("agent-b", Map.of("preempt", "true"));
  }

  Path image(String name) {
    return tmp.resolve("pool").resolve(name + ".img");
  }

  /** Every loop device on this machine backed by {@code name}'s image, whichever host it belongs to. */
  List<String> allDevices(String name) {
    return new LoopDevices(new Commands()).backedBy(image(name));
  }

  String holder(Host h, String name) {
    return h.provider().inspect(name, ctx()).orElseThrow().attachedTo();
  }

  static VolumeHandle handle(String name, Attachment at) {
    return new VolumeHandle(name, VolumeOptions.EMPTY, "", at.device(), at.providerData());
  }

  /** The end of a test: no loop device is left on {@code name}'s image, and {@code h} removes the volume. */
  void removeLeavingNoDevice(Host h, String name) {
    assertEquals(List.of(), allDevices(name));
    h.provider().remove(name, ctx());
  }

  LoopPool.Meta meta(String name) {
    return new LoopPool(tmp.resolve("pool"), "loop", now::get).read(name).orElseThrow();
  }

  @Test
  void aPreemptFromAnotherHostWaitsForTheHoldersLeaseToExpire() {
    long leaseEnd = now.get() + LEASE_MS;
    VolumeHandle ha = mounted(a.provider(), "moving", o);

    now.set(leaseEnd - 1);
    DvdiException busy = assertThrows(DvdiException.class, () -> b.provider().attach("moving", o, ctx()));
    assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode(), busy.getMessage());
    String msg = busy.getMessage();
    assertTrue(msg.contains("'agent-a'") && msg.contains(Instant.ofEpochMilli(leaseEnd).toString()) && msg.contains("preempt"),
        "names the holder, when its lease ends, and that preempt waits for it: " + msg);
    assertEquals("agent-a", holder(b, "moving"));
    assertEquals(List.of(ha.device()), allDevices("moving"), "no second loop device on the image");
    assertTrue(KernelMounts.read().isMountPoint(Path.of(ha.hostPath())), "a's mount is intact");

    now.set(leaseEnd + 1);
    Attachment bat = b.provider().attach("moving", o, ctx());
    assertEquals("agent-b", holder(a, "moving"));
    b.provider().detach(handle("moving", bat), ctx());
    a.provider().unmount(ha, ctx());
    a.provider().detach(ha, ctx());
    removeLeavingNoDevice(a, "moving");
  }

  @Test
  void theOldHoldersReleaseDetachesItsOwnDeviceAfterAnotherHostTookTheVolumeOver() {
    VolumeHandle ha = mounted(a.provider(), "moving", o);

    // a stops renewing (its host is cut off from the pool, say); once its lease has expired b takes over.
    now.addAndGet(LEASE_MS + 1);
    Attachment bat = b.provider().attach("moving", o, ctx());
    assertEquals("agent-b", holder(a, "moving"));
    assertEquals(List.of(ha.device()), a.loops().backedBy(image("moving")), "b cannot touch a's device on a's host");

    // a's release later: its own device is detached, b's device and b's record stay.
    a.provider().unmount(ha, ctx());
    a.provider().detach(ha, ctx());
    assertEquals(List.of(), a.loops().backedBy(image("moving")), "a's loop device was detached, not leaked");
    assertEquals(List.of(bat.device()), allDevices("moving"), "b's device is untouched");
    assertEquals("agent-b", holder(a, "moving"), "a did not clear b's holder record");

    b.provider().detach(handle("moving", bat), ctx());
    assertEquals("", holder(a, "moving"));
    removeLeavingNoDevice(a, "moving");
  }

  @Test
  void theHolderRenewsItsLeaseAndStopsOnceAnotherHostTookTheVolumeOver() throws Exception {
    a.provider().create("moving", o, ctx());
    long firstEnd = now.get() + LEASE_MS;
    Attachment aat = a.provider().attach("moving", o, ctx());
    assertEquals(firstEnd, meta("moving").leaseUntilMs());

    now.addAndGet(LEASE_MS / 3);
    assertEquals(List.of(), LogCapture.warnings(LoopProvider.class, a.provider()::renewLeases));
    long renewedEnd = now.get() + LEASE_MS;
    assertEquals(renewedEnd, meta("moving").leaseUntilMs());
    assertEquals(Instant.ofEpochMilli(renewedEnd).toString(), b.provider().inspect("moving", ctx()).orElseThrow().details().get("lease-until"));
    now.set(firstEnd + 1);
    DvdiException busy = assertThrows(DvdiException.class, () -> b.provider().attach("moving", o, ctx()));
    assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode(), "the renewed lease still runs: " + busy.getMessage());

    // a's renewals stop (its host is cut off); after its lease b takes over, and a's next renewal finds b's record.
    now.set(renewedEnd);
    Attachment bat = b.provider().attach("moving", o, ctx());
    LoopPool.Meta taken = meta("moving");
    List<String> logged = LogCapture.warnings(LoopProvider.class, a.provider()::renewLeases);
    assertEquals(1, logged.size(), logged.toString());
    assertTrue(logged.get(0).startsWith("SEVERE") && logged.get(0).contains("loop/moving") && logged.get(0).contains("'agent-a'")
        && logged.get(0).contains("'agent-b'"), logged.get(0));
    assertEquals(taken, meta("moving"), "a's renewal did not touch b's record");
    assertEquals(List.of(), LogCapture.warnings(LoopProvider.class, a.provider()::renewLeases), "and a renews it no more");
    assertEquals(taken, meta("moving"));

    a.provider().detach(handle("moving", aat), ctx());
    b.provider().detach(handle("moving", bat), ctx());
    removeLeavingNoDevice(a, "moving");
  }

  @Test
  void aRestartedAgentRenewsTheLeasesOfTheVolumesItStillHolds() {
    HostLoops loops = new HostLoops();
    Host before = host("agent-a", "boot-1", loops, Map.of());
    before.provider().create("kept", o, ctx());
    Attachment att = before.provider().attach("kept", o, ctx());
    before.provider().close();

    now.addAndGet(LEASE_MS / 2);
    Host after = host("agent-a", "boot-1", loops, Map.of());
    after.provider().renewLeases();
    assertEquals(now.get() + LEASE_MS, meta("kept").leaseUntilMs(), "found in the pool and renewed");
    after.provider().detach(handle("kept", att), ctx());
    assertEquals("", meta("kept").holder());
    removeLeavingNoDevice(after, "kept");
  }

  @Test
  void anotherAgentOfTheSameHostLeavesTheHoldersDeviceAlone() {
    HostLoops loops = new HostLoops();
    Host holds = host("agent-a", "boot-1", loops, Map.of());
    Host other = host("agent-c", "boot-1", loops, Map.of("preempt", "true"));
    holds.provider().create("local", o, ctx());
    Attachment aat = holds.provider().attach("local", o, ctx()); // attached, not mounted
    assertThrows(DvdiException.class, () -> other.provider().attach("local", o, ctx()));
    // The engine undoes agent-c's failed attach with a detach: agent-a's device is not agent-c's to detach.
    other.provider().detach(new VolumeHandle("local", o, "", "", Map.of()), ctx());
    assertEquals(List.of(aat.device()), allDevices("local"));
    assertEquals("agent-a", holder(other, "local"));
    holds.provider().detach(handle("local", aat), ctx());
    removeLeavingNoDevice(holds, "local");
  }

  @Test
  void aHolderRecordedInFormat1NeverExpiresUntilItsOwnAgentRenewsIt() throws Exception {
    a.provider().create("old", o, ctx());
    long size = meta("old").sizeBytes();
    Files.writeString(tmp.resolve("pool/old.meta"), "format=1\nstate=ready\nname=old\nsize=" + size
        + "\ncreated=1\nholder=agent-a\nholder-since=2\n");
    assertEquals(LoopPool.NO_LEASE, meta("old").leaseUntilMs());

    now.addAndGet(1000 * LEASE_MS);
    DvdiException busy = assertThrows(DvdiException.class, () -> b.provider().attach("old", o, ctx()));
    assertEquals(ErrorCode.VOLUME_BUSY, busy.getCode(), busy.getMessage());
    assertTrue(busy.getMessage().contains("format 1"), busy.getMessage());

    a.provider().renewLeases(); // agent-a, upgraded, finds its record
    assertTrue(Files.readString(tmp.resolve("pool/old.meta")).contains("format=" + LoopPool.META_FORMAT));
    assertEquals(now.get() + LEASE_MS, meta("old").leaseUntilMs());
    now.addAndGet(LEASE_MS);
    Attachment bat = b.provider().attach("old", o, ctx());
    b.provider().detach(handle("old", bat), ctx());
    removeLeavingNoDevice(a, "old");
  }
}
