package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.dvdi.core.seams.SimHost;
import org.dvdi.core.state.proto.Volume;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What {@link KernelTruth} says of a simulated host's mounts: the cases of {@link KernelTruthRootTest}, and more, without root. */
class KernelTruthSimTest {
  final SimHost host = new SimHost();
  final KernelTruth kernel = new KernelTruth(host);
  final Path hostPath = Path.of("/var/lib/dvdi/volumes/t/v");
  final Path device = Path.of("/dev/sim0");
  long rdev;

  @BeforeEach
  void mountADevice() throws Exception {
    host.mkdirs(hostPath);
    rdev = host.createNode(device);
    host.mount(device, hostPath);
  }

  static Volume record(Path hostPath, String device) {
    return Volume.newBuilder().setDriver("t").setName("v").setHostPath(hostPath.toString()).setDevice(device).build();
  }

  @Test
  void aMountWhoseDeviceNodeVanishedIsNotTheVolumesMount() throws Exception {
    Path node = Path.of("/tmp/node");
    host.createNode(node, rdev);
    assertTrue(kernel.mounted(record(hostPath, node.toString())), "mounted while its node is there");
    host.removeNode(node);
    assertFalse(kernel.mounted(record(hostPath, node.toString())),
        "the device node is gone: the mount at the host path is not the volume's");
    host.link(Path.of("/dev/disk/by-id/vol-1"), "../../sim0");
    assertTrue(kernel.mounted(record(hostPath, "/dev/disk/by-id/vol-1")), "the node a link names");
    host.removeNode(device);
    assertFalse(kernel.mounted(record(hostPath, "/dev/disk/by-id/vol-1")), "the link is left dangling");
    assertTrue(host.mountTable().isMountPoint(hostPath), "while the dead mount stays");
  }

  @Test
  void aHostPathOnAnotherDeviceIsNotMounted() throws Exception {
    assertTrue(kernel.mounted(record(hostPath, device.toString())));
    Path other = Path.of("/var/lib/dvdi/volumes/t/other");
    host.mkdirs(other);
    assertFalse(kernel.mounted(record(other, device.toString())), "a directory beside the mount is on another device");
    host.createNode(Path.of("/dev/sim1"));
    host.mount(Path.of("/dev/sim1"), hostPath);
    assertFalse(kernel.mounted(record(hostPath, device.toString())), "another device mounted on top");
  }

  @Test
  void withoutADeviceTheFilesystemRecordedAtTheMountDecides() throws Exception {
    Path data = hostPath.resolve("data");
    host.mkdirs(data);
    long dev = kernel.deviceOf(data);
    assertEquals(rdev, dev);
    Volume v = record(data, "").toBuilder().setHostDev(dev).build();
    assertTrue(kernel.mounted(v), "a path inside the mount, on the recorded filesystem");
    assertFalse(kernel.mounted(record(data, "")), "without a record, a path inside a mount is not a mount point");
    host.umount(hostPath);
    assertFalse(kernel.mounted(v), "umounted: the path is not there");
    host.mkdirs(data);
    assertFalse(kernel.mounted(v), "the bare directory on the disk below is not the volume");
    host.mount(device, hostPath);
    assertTrue(kernel.mounted(v), "mounted again");
  }

  @Test
  void aPluginsMountIsItsFilesystemNotAnotherOneAtThePlace() throws Exception {
    Path web = Path.of("/var/lib/plugin/web");
    host.mkdirs(web);
    host.mountNew("plugin:web", "fuse.sim", web);
    Volume v = record(web, "").toBuilder().setHostDev(kernel.deviceOrUnknown(web.toString())).build();
    assertTrue(kernel.mounted(v));
    host.umount(web);
    assertFalse(kernel.mounted(v), "the bare directory");
    host.mountNew("plugin:web", "fuse.sim", web);
    assertFalse(kernel.mounted(v), "a new mount there, not the one dvdi recorded");
    assertEquals(0, kernel.deviceOrUnknown("/var/lib/plugin/none"), "a path that is not there: unknown");
  }

  @Test
  void aRecordOfAnEarlierVersionAsksTheMountTable() throws Exception {
    assertTrue(kernel.mounted(record(hostPath, "")), "no device, no filesystem: a mount point");
    Path dir = Path.of("/srv/not-a-node");
    host.mkdirs(dir);
    assertTrue(kernel.mounted(record(hostPath, dir.toString())), "a device path that is no block device counts as none");
    long reads = host.mountTableReads();
    kernel.mounted(record(hostPath, device.toString()));
    assertEquals(reads, host.mountTableReads(), "a block device's volume costs no read of the mount table");
    host.umount(hostPath);
    assertFalse(kernel.mounted(record(hostPath, "")));
    assertFalse(kernel.mounted(record(hostPath, device.toString())), "the device is not mounted there");
  }
}
