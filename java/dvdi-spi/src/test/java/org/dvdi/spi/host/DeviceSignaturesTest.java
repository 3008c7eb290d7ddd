package org.dvdi.spi.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading wipefs's list of signatures, and what dvdi concludes from it (outputs as wipefs 2.38 prints them). */
class DeviceSignaturesTest {
  static DeviceSignatures.Probe probe(String wipefsOutput) {
    return new DeviceSignatures.Probe("/dev/x", DeviceSignatures.parse("/dev/x", wipefsOutput));
  }

  @Test
  void finding1_aPartitionTableIsASignatureNamedByItsType() {
    DeviceSignatures.Probe p = probe("dos,partition-table,0x1fe\n");
    assertFalse(p.blank());
    assertEquals(Optional.empty(), p.filesystem());
    assertEquals("a dos partition table (PTTYPE=dos, at offset 0x1fe)", p.describe());
  }

  @Test
  void finding1_onlyALoneFilesystemIsMounted() {
    assertEquals(Optional.of("ext4"), probe("ext4,filesystem,0x438\n").filesystem());
    // Beside a partition table, a crypto header or another filesystem: neither mounted nor formatted.
    DeviceSignatures.Probe withTable = probe("ext4,filesystem,0x438\ndos,partition-table,0x1fe\n");
    assertEquals(Optional.empty(), withTable.filesystem());
    assertTrue(withTable.hasFilesystem());
    DeviceSignatures.Probe luks = probe("crypto_LUKS,crypto,0x0\next4,filesystem,0x438\n");
    assertEquals(Optional.empty(), luks.filesystem());
    assertEquals("a crypto_LUKS encryption header (TYPE=crypto_LUKS, USAGE=crypto, at offset 0x0) and an ext4"
        + " filesystem (TYPE=ext4, USAGE=filesystem, at offset 0x438)", luks.describe());
    assertEquals(Optional.empty(), probe("xfs,filesystem,0x0\next4,filesystem,0x438\n").filesystem());
  }

  @Test
  void finding1_raidSwapAndUnknownUsagesAreSignaturesToo() {
    assertEquals("a linux_raid_member RAID member superblock (TYPE=linux_raid_member, USAGE=raid, at offset 0x1000)",
        probe("linux_raid_member,raid,0x1000").describe());
    assertEquals("a swap signature (TYPE=swap, USAGE=other, at offset 0xff6)", probe("swap,other,0xff6").describe());
    assertFalse(probe("weird,,0x0").blank());
    assertEquals(Optional.empty(), probe("weird,,0x0").filesystem());
  }

  @Test
  void finding1_nothingListedIsBlankAndGarbageIsAnError() {
    assertTrue(probe("").blank());
    assertEquals("no signature", probe("\n").describe());
    DvdiException e = assertThrows(DvdiException.class, () -> probe("wipefs: something odd\n"));
    assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
    assertTrue(e.getMessage().contains("cannot probe /dev/x"), e.getMessage());
  }

  @Test
  void finding1_aPathThatIsNotABlockDeviceIsNeverBlank(@TempDir Path tmp) throws Exception {
    DeviceSignatures s = new DeviceSignatures(new Commands());
    CallContext ctx = CallContext.of(Duration.ofSeconds(10), "test", "test");
    Path file = Files.write(tmp.resolve("file"), new byte[4096]);
    DvdiException notDevice = assertThrows(DvdiException.class, () -> s.probe(file.toString(), ctx));
    assertEquals(ErrorCode.PROVIDER_FAILURE, notDevice.getCode());
    assertTrue(notDevice.getMessage().contains("is not a block device"), notDevice.getMessage());
    DvdiException missing = assertThrows(DvdiException.class, () -> s.probe(tmp.resolve("nope").toString(), ctx));
    assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
  }
}
