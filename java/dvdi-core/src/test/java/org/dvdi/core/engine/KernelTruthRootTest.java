package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.dvdi.core.seams.Host;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** What {@link KernelTruth} says of real mounts: a loop device's filesystem mounted on a directory. */
@RequiresRoot
@ExtendWith(LeakCheck.class)
class KernelTruthRootTest {
  @TempDir
  Path tmp;

  final KernelTruth kernel = new KernelTruth(Host.REAL);
  String loop;
  Path host;

  static String run(String... argv) throws Exception {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).trim();
    assertEquals(0, p.waitFor(), String.join(" ", argv) + ": " + out);
    return out;
  }

  /** A 16 MiB ext4 image on a loop device, mounted at {@code <tmp>/host}. */
  void mountALoopDevice() throws Exception {
    Path img = tmp.resolve("img");
    run("truncate", "-s", "16M", img.toString());
    run("mkfs.ext4", "-q", "-F", img.toString());
    loop = run("losetup", "--find", "--show", img.toString());
    host = Files.createDirectories(tmp.resolve("host"));
    run("mount", loop, host.toString());
  }

  @AfterEach
  void tearDown() throws Exception {
    if (host != null) {
      run("umount", host.toString());
    }
    if (loop != null) {
      run("losetup", "-d", loop);
    }
  }

  static Volume record(String hostPath, String device) {
    return Volume.newBuilder().setDriver("t").setName("v").setHostPath(hostPath).setDevice(device).build();
  }

  /**
   * Issue 13, hole 3: after a force-detach by another host (EBS) the device node goes away
   * while its dead mount stays at the host path; "something is mounted there" must not count
   * as the volume's mount, or writes go to a filesystem whose device is gone.
   */
  @Test
  void aMountWhoseDeviceNodeVanishedIsNotTheVolumesMount() throws Exception {
    mountALoopDevice();
    String[] majMin = run("stat", "-c", "%t %T", loop).split(" ");
    Path node = tmp.resolve("node");
    run("mknod", node.toString(), "b", Integer.toString(Integer.parseInt(majMin[0], 16)),
        Integer.toString(Integer.parseInt(majMin[1], 16)));
    assertTrue(kernel.mounted(record(host.toString(), node.toString())), "mounted while its node is there");
    Files.delete(node);
    assertFalse(kernel.mounted(record(host.toString(), node.toString())),
        "the device node is gone: the mount at the host path is not the volume's");
  }

  @Test
  void aHostPathOnAnotherDeviceIsNotMounted() throws Exception {
    mountALoopDevice();
    assertTrue(kernel.mounted(record(host.toString(), loop)));
    Path other = Files.createDirectories(tmp.resolve("other"));
    assertFalse(kernel.mounted(record(other.toString(), loop)), "a directory beside the mount is on another device");
  }

  @Test
  void withoutADeviceTheFilesystemRecordedAtTheMountDecides() throws Exception {
    mountALoopDevice();
    Path data = Files.createDirectories(host.resolve("data"));
    long dev = kernel.deviceOf(data);
    Volume v = record(data.toString(), "").toBuilder().setHostDev(dev).build();
    assertTrue(kernel.mounted(v), "a path inside the mount, on the recorded filesystem");
    assertFalse(kernel.mounted(record(data.toString(), "")), "without a record, a path inside a mount is not a mount point");
    run("umount", host.toString());
    Files.createDirectories(host.resolve("data"));
    assertFalse(kernel.mounted(v), "the bare directory on the disk below is not the volume");
    run("mount", loop, host.toString());
  }
}
