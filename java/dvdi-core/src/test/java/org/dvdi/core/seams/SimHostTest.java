package org.dvdi.core.seams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.dvdi.spi.host.KernelMounts;
import org.junit.jupiter.api.Test;

/** The simulated host's model: filesystems and mounts, device nodes, processes, boots. */
class SimHostTest {
  final SimHost host = new SimHost();
  final Path dir = Path.of("/mnt/vol");

  long dev(Path p) throws Exception {
    return host.stat(p, false).dev();
  }

  @Test
  void aPathIsOnTheFilesystemOfTheMountAtOrAboveIt() throws Exception {
    host.mkdirs(dir);
    assertEquals(SimHost.ROOT_DEV, dev(dir), "a bare directory is on the root filesystem");
    long rdev = host.createNode(Path.of("/dev/sim0"));
    assertEquals(rdev, host.mount(Path.of("/dev/sim0"), dir));
    assertEquals(rdev, dev(dir), "a block device's filesystem has the device's number as its dev");
    host.mkdirs(dir.resolve("data/deep"));
    assertEquals(rdev, dev(dir.resolve("data/deep")));
    assertEquals(SimHost.ROOT_DEV, dev(Path.of("/mnt")), "above the mount");
    assertThrows(NoSuchFileException.class, () -> host.stat(Path.of("/mnt/other"), false));
  }

  @Test
  void anUmountShowsTheBareDirectoryAndTheDeviceKeepsItsFiles() throws Exception {
    host.mkdirs(dir);
    host.createNode(Path.of("/dev/sim0"));
    long rdev = host.mount(Path.of("/dev/sim0"), dir);
    host.mkdirs(dir.resolve("data"));
    assertTrue(host.umount(dir));
    assertEquals(SimHost.ROOT_DEV, dev(dir), "the directory below the mount");
    assertThrows(NoSuchFileException.class, () -> host.stat(dir.resolve("data"), false), "data is on the device");
    assertFalse(host.umount(dir), "nothing is mounted there any more");
    host.mount(Path.of("/dev/sim0"), dir);
    assertEquals(rdev, dev(dir.resolve("data")), "mounted again: its files are back");
  }

  @Test
  void aNewFilesystemHasAFreshDevAndIsGoneWithItsMount() throws Exception {
    host.mkdirs(dir);
    long a = host.mountNew("tmpfs", "tmpfs", dir);
    host.mkdirs(dir.resolve("x"));
    assertEquals(a, dev(dir.resolve("x")));
    assertNotEquals(SimHost.ROOT_DEV, a);
    host.umount(dir);
    long b = host.mountNew("tmpfs", "tmpfs", dir);
    assertNotEquals(a, b, "another filesystem");
    assertThrows(NoSuchFileException.class, () -> host.stat(dir.resolve("x"), false), "empty");
  }

  @Test
  void theMountTableListsTheMountsInOrderAndTheTopmostHidesTheOnesBelow() throws Exception {
    Path spaced = Path.of("/mnt/a b");
    host.mkdirs(spaced);
    host.createNode(Path.of("/dev/sim0"));
    long lower = host.mount(Path.of("/dev/sim0"), spaced);
    host.mkdirs(spaced.resolve("sub"));
    host.mountNew("plugin:web", "fuse.sim", spaced.resolve("sub"));
    long upper = host.mountNew("tmpfs", "tmpfs", spaced);
    KernelMounts t = host.mountTable();
    assertEquals(List.of("/", "/mnt/a b", "/mnt/a b/sub", "/mnt/a b"), t.all().stream().map(KernelMounts.Mount::mountPoint).toList());
    assertEquals("tmpfs", t.at(spaced).orElseThrow().fsType(), "the topmost");
    assertEquals("/dev/sim0", t.all().get(1).source());
    assertEquals(t.all().get(0).id(), t.all().get(1).parentId());
    assertEquals(upper, dev(spaced));
    assertEquals(1, host.mountTableReads());
    assertThrows(NoSuchFileException.class, () -> host.stat(spaced.resolve("sub"), false),
        "the mount on top hides the tree below it, and the mount in that tree");
    host.umount(spaced);
    assertEquals(lower, dev(spaced));
    assertEquals("fuse.sim", host.mountTable().at(spaced.resolve("sub")).orElseThrow().fsType(), "visible again");
  }

  @Test
  void anUmountTakesTheMountsOnItAlong() throws Exception {
    host.mkdirs(dir);
    host.mountNew("tmpfs", "tmpfs", dir);
    host.mkdirs(dir.resolve("in"));
    host.mountNew("tmpfs", "tmpfs", dir.resolve("in"));
    assertTrue(host.umount(dir));
    assertEquals(List.of("/"), host.mountTable().all().stream().map(KernelMounts.Mount::mountPoint).toList());
    assertThrows(IllegalArgumentException.class, () -> host.umount(Path.of("/")));
  }

  @Test
  void aMountNeedsADirectoryAndABlockDevice() throws Exception {
    host.createNode(Path.of("/dev/sim0"));
    assertThrows(NoSuchFileException.class, () -> host.mount(Path.of("/dev/sim0"), dir), "no such directory");
    assertThrows(NotDirectoryException.class, () -> host.mount(Path.of("/dev/sim0"), Path.of("/dev/sim0")));
    host.mkdirs(dir);
    assertThrows(FileSystemException.class, () -> host.mount(Path.of("/mnt"), dir), "not a block device");
    assertThrows(NoSuchFileException.class, () -> host.mount(Path.of("/dev/gone"), dir));
  }

  @Test
  void deviceNodesStatTheirDeviceThroughLinksAndCanVanish() throws Exception {
    long rdev = host.createNode(Path.of("/dev/sim0"));
    host.link(Path.of("/dev/disk/by-id/vol-1"), "../../sim0");
    Host.FileStat node = host.stat(Path.of("/dev/disk/by-id/vol-1"), true);
    assertTrue(node.blockDevice());
    assertEquals(rdev, node.rdev());
    assertFalse(host.stat(Path.of("/dev/disk/by-id/vol-1"), false).blockDevice(), "the link itself");
    host.createNode(Path.of("/tmp/copy"), rdev);
    assertEquals(rdev, host.stat(Path.of("/tmp/copy"), true).rdev(), "a second node of the device");
    host.mkdirs(dir);
    host.mount(Path.of("/dev/disk/by-id/vol-1"), dir);
    assertEquals("/dev/sim0", host.mountTable().at(dir).orElseThrow().source(), "the device, not the link");
    assertTrue(host.removeNode(Path.of("/dev/sim0")));
    assertThrows(NoSuchFileException.class, () -> host.stat(Path.of("/dev/disk/by-id/vol-1"), true), "a dangling link");
    assertTrue(host.mountTable().isMountPoint(dir), "the dead mount stays");
    assertFalse(host.removeNode(Path.of("/dev/sim0")));
    assertFalse(host.removeNode(Path.of("/dev")), "a directory is no node");
  }

  @Test
  void endedPidsAreGivenToNewProcessesThatStartLater() {
    long self = host.pid();
    long start = host.processStartMs(self).orElseThrow();
    long other = host.spawn();
    assertNotEquals(self, other);
    long otherStart = host.processStartMs(other).orElseThrow();
    assertTrue(otherStart > start);
    assertTrue(host.kill(other));
    assertEquals(Optional.empty(), host.processStartMs(other));
    assertFalse(host.kill(other));
    host.spawn(other);
    assertTrue(host.processStartMs(other).orElseThrow() > otherStart, "the pid reused, by a later process");
    assertThrows(IllegalStateException.class, () -> host.spawn(other), "it runs");
  }

  @Test
  void pidsWrapAroundAndSkipTheRunningOnes() {
    long first = host.pid();
    assertEquals(SimHost.PID_MIN, first);
    long last = 0;
    for (long n = first + 1; n <= SimHost.PID_MAX; n++) {
      last = host.spawn();
      host.kill(last);
    }
    assertEquals(SimHost.PID_MAX, last);
    assertEquals(first + 1, host.spawn(), "after the last pid, the first free one from the start");
  }

  @Test
  void processesOfOneMachineShareIt() throws Exception {
    SimHost cli = host.newProcess();
    assertNotEquals(host.pid(), cli.pid());
    assertEquals(host.bootId(), cli.bootId());
    assertTrue(host.processStartMs(cli.pid()).isPresent());
    host.mkdirs(dir);
    cli.mountNew("tmpfs", "tmpfs", dir);
    assertTrue(host.mountTable().isMountPoint(dir));
  }

  @Test
  void aRebootForgetsMountsAndProcessesButNotFiles() throws Exception {
    String boot = host.bootId();
    long self = host.pid();
    host.mkdirs(dir);
    host.createNode(Path.of("/dev/sim0"));
    host.mount(Path.of("/dev/sim0"), dir);
    host.reboot();
    assertNotEquals(boot, host.bootId());
    assertEquals(Optional.empty(), host.processStartMs(self), "every process ended");
    assertEquals(List.of("/"), host.mountTable().all().stream().map(KernelMounts.Mount::mountPoint).toList());
    assertEquals(SimHost.ROOT_DEV, dev(dir), "the bare directory");
    assertTrue(host.stat(Path.of("/dev/sim0"), true).blockDevice(), "the device node stays");
    SimHost after = host.newProcess();
    assertEquals(after.bootId(), host.bootId());
    assertTrue(after.processStartMs(after.pid()).isPresent());
  }
}
