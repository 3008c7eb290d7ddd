package org.dvdi.provider.ebs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finding an attached volume's block device, in a fake /dev and /sys. */
class DeviceDiscoveryTest {
  static final String VOL = "vol-0123456789abcdef0";

  @TempDir
  Path tmp;
  Path dev;
  Path sys;
  Path byId;
  DeviceDiscovery d;

  @BeforeEach
  void dirs() throws Exception {
    dev = Files.createDirectories(tmp.resolve("dev"));
    sys = Files.createDirectories(tmp.resolve("sys/block"));
    byId = Files.createDirectories(tmp.resolve("dev/disk/by-id"));
    d = new DeviceDiscovery(dev, sys, byId);
  }

  private void nvme(String name, String serial) throws Exception {
    Files.createDirectories(sys.resolve(name).resolve("device"));
    Files.writeString(sys.resolve(name).resolve("device/serial"), String.format("%-20s%n", serial));
    Files.createFile(dev.resolve(name));
  }

  @Test
  void nvmeSerialIsTheVolumeIdWithoutTheDash() throws Exception {
    nvme("nvme0n1", "vol0aaaaaaaaaaaaaaaa");
    nvme("nvme1n1", "vol0123456789abcdef0");
    Files.createFile(dev.resolve("xvdf")); // a name match must not win over the serial
    assertEquals(Optional.of(dev.resolve("nvme1n1")), d.find(VOL, "/dev/xvdf"));
  }

  @Test
  void udevByIdLinksAreUsedWhenSysfsSaysNothing() throws Exception {
    Path target = Files.createFile(dev.resolve("nvme3n1"));
    Files.createSymbolicLink(byId.resolve("nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0_1"), target);
    assertEquals(Optional.of(byId.resolve("nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0_1")), d.find(VOL, ""));
  }

  @Test
  void xenNamesMapSdToXvd() throws Exception {
    assertEquals(Optional.empty(), d.find(VOL, "/dev/sdg"));
    Files.createFile(dev.resolve("xvdg"));
    assertEquals(Optional.of(dev.resolve("xvdg")), d.find(VOL, "/dev/sdg"));
    assertEquals(Optional.of(dev.resolve("xvdg")), d.find(VOL, "/dev/xvdg"));
    Files.createFile(dev.resolve("sdh"));
    assertEquals(Optional.of(dev.resolve("sdh")), d.find(VOL, "/dev/xvdh"));
  }

  @Test
  void localLettersAndLetterParsing() throws Exception {
    Files.createFile(dev.resolve("xvda"));
    Files.createFile(dev.resolve("xvda1"));
    Files.createFile(dev.resolve("sdf"));
    Files.createFile(dev.resolve("nvme0n1"));
    assertEquals(Set.of('a', 'f'), d.localLetters());
    assertEquals(Optional.of('a'), DeviceDiscovery.letter("/dev/sda1"));
    assertEquals(Optional.of('p'), DeviceDiscovery.letter("/dev/xvdp"));
    assertEquals(Optional.of('f'), DeviceDiscovery.letter("xvdf"));
    assertEquals(Optional.empty(), DeviceDiscovery.letter("/dev/nvme1n1"));
  }

  @Test
  void waitingEndsAtTheDeadlineNamingWhereItLooked() {
    long start = System.nanoTime();
    DvdiException e = assertThrows(DvdiException.class,
        () -> d.await(VOL, "/dev/xvdf", TestSupport.ctx(Duration.ofMillis(300)), "ebs/web"));
    assertEquals(ErrorCode.TIMEOUT, e.getCode());
    assertTrue((System.nanoTime() - start) / 1_000_000 < 1500);
    assertTrue(e.getMessage().contains("vol0123456789abcdef0") && e.getMessage().contains("xvdf"), e.getMessage());
  }

  @Test
  void aDeviceThatAppearsLaterIsFound() throws Exception {
    Thread t = new Thread(() -> {
      try {
        Thread.sleep(150);
        nvme("nvme5n1", "vol0123456789abcdef0");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    t.start();
    assertEquals(dev.resolve("nvme5n1"), d.await(VOL, "/dev/xvdf", TestSupport.ctx(Duration.ofSeconds(5)), "ebs/web"));
    t.join();
  }
}
