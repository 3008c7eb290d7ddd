package org.dvdi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.dvdi.core.Dvdi;
import org.dvdi.core.TestDvdi;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.DiskImages;
import org.dvdi.spi.testing.LeakCheck;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI against a running dvdi (another writer on the same state), on real loop devices. */
@RequiresRoot
class CliRootTest {
  @TempDir
  Path tmp;

  TestDvdi t;
  Dvdi agent;

  CliRun cli(String... args) {
    return CliRun.of(t.settings, args);
  }

  @BeforeEach
  void setUp() throws Exception {
    t = new TestDvdi(tmp);
    agent = t.open(Dvdi.WRITER_AGENT);
    agent.manager().prepare(t.request("c1", Map.of("DVDI_VOLUME_NAME", "web", "DVDI_VOLUME_CONTAINERPATH", "data"))).join();
    agent.manager().prepare(t.request("c2", Map.of("DVDI_VOLUME_NAME", "web", "DVDI_VOLUME_NAME1", "db",
        "DVDI_VOLUME_READONLY1", "true", "DVDI_VOLUME_CONTAINERPATH1", "db"))).join();
  }

  @AfterEach
  void tearDown() {
    for (String c : agent.manager().containers()) {
      agent.manager().cleanup(c).join();
    }
    agent.close();
  }

  @Test
  void mountsShowsTheTable() throws Exception {
    CliRun r = cli("mounts");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertTrue(lines[0].startsWith("DRIVER  NAME  STATUS   HOST PATH"), lines[0]);
    assertTrue(r.out().contains("loop    web   mounted  " + t.mountRoot.resolve("loop/web")), r.out());
    assertTrue(r.out().matches("(?s).*web .* 2 +c1,c2 .*"), r.out());
    assertEquals(2, cli("mounts", "--no-headers").out().split("\n").length);
    JsonNode j = cli("-o", "json", "mounts").json();
    assertEquals(2, j.get("volumes").size());
    assertEquals("db", j.get("volumes").get(0).get("name").asText());
    assertEquals(1, j.get("volumes").get(0).get("refs").asInt());
    assertTrue(j.get("volumes").get(0).get("device").asText().startsWith("/dev/loop"));
  }

  @Test
  void inspectContainersAndVolumes() throws Exception {
    JsonNode c = cli("-o", "json", "inspect", "c2").json();
    assertEquals("ready", c.get("status").asText());
    assertEquals("loop/db", c.get("volumes").get(1).get("volume").asText());
    assertTrue(c.get("volumes").get(1).get("read_only").asBoolean());
    assertEquals(t.mountRoot.resolve("loop/db").toString(), c.get("volumes").get(1).get("host_path").asText());
    CliRun v = cli("inspect", "loop/web");
    assertEquals(0, v.code());
    assertTrue(v.out().contains("containers:\n  - c1\n  - c2"), v.out());
    CliRun missing = cli("inspect", "loop/nope");
    assertEquals(ExitCodes.ERROR, missing.code());
    assertTrue(missing.err().startsWith("dvdi VOLUME_NOT_FOUND: volume loop/nope is not in the mount table"), missing.err());
  }

  @Test
  void verifyFindsDriftAndReleaseRepairsIt() throws Exception {
    CliRun ok = cli("verify");
    assertEquals(0, ok.code(), ok.out() + ok.err());
    assertTrue(ok.out().startsWith("ok: 2 volumes and 2 containers agree"), ok.out());

    // Someone unmounts a volume behind dvdi's back.
    Path db = t.mountRoot.resolve("loop/db");
    assertEquals(0, new ProcessBuilder("umount", db.toString()).inheritIO().start().waitFor());
    CliRun drift = cli("verify");
    assertEquals(ExitCodes.DRIFT, drift.code(), drift.out());
    assertTrue(drift.out().matches("(?s).*\nloop/db +state says mounted at " + db + ", the kernel has no mount there\n.*"), drift.out());
    JsonNode dj = cli("-o", "json", "verify").json();
    assertEquals(false, dj.get("ok").asBoolean());

    // The agent's recovery mounts it again for its live container.
    agent.manager().recover(Set.of("c1", "c2"), Set.of()).join();
    assertTrue(KernelMounts.read().isMountPoint(db));
    assertEquals(0, cli("verify").code());
  }

  @Test
  void releaseIsRefusedWhileUsedAndWorksOnOrphans() throws Exception {
    CliRun notOperators = cli("unmount", "loop/web");
    assertEquals(ExitCodes.ERROR, notOperators.code());
    assertEquals("dvdi VOLUME_NOT_FOUND: loop/web is not mounted by an operator (dvdi's state has the volume but no "
        + "container operator:loop/web); `dvdi release loop/web` releases it when no container uses it\n", notOperators.err());
    CliRun busy = cli("release", "loop/web");
    assertEquals(ExitCodes.ERROR, busy.code());
    assertTrue(busy.err().startsWith("dvdi VOLUME_BUSY: volume loop/web is used by [c1, c2]"), busy.err());
    CliRun forced = cli("release", "--force", "loop/db");
    assertEquals(0, forced.code(), forced.err());
    assertTrue(!KernelMounts.read().isMountPoint(t.mountRoot.resolve("loop/db")));
    // The agent sees the CLI's change: c2 no longer holds db, and its cleanup releases web only after c1's.
    assertTrue(agent.manager().cleanup("c2").join().released().isEmpty());
    assertTrue(agent.manager().cleanup("c1").join().released().size() == 1);
    assertEquals("", cli("mounts", "--no-headers").out());
  }

  @Test
  void operatorMountUnmountCreateRemoveAndVolumes() throws Exception {
    assertEquals(0, cli("mount", "loop/web").code());
    CliRun shared = cli("unmount", "loop/web");
    assertEquals(0, shared.code(), shared.err());
    assertEquals("unmounted loop/web (still used by c1, c2)\n", shared.out());
    CliRun created = cli("create", "loop/spare", "-O", "size=48MiB");
    assertEquals(0, created.code(), created.err());
    JsonNode vols = cli("-o", "json", "volumes").json();
    assertEquals(3, vols.get("volumes").size(), vols.toString());
    CliRun m = cli("mount", "loop/spare");
    assertEquals(0, m.code(), m.err());
    Path p = Path.of(m.out().trim());
    assertTrue(KernelMounts.read().isMountPoint(p));
    Files.writeString(p.resolve("x"), "y");
    CliRun busy = cli("remove", "loop/spare");
    assertEquals(ExitCodes.ERROR, busy.code());
    assertTrue(busy.err().contains("VOLUME_BUSY"), busy.err());
    CliRun u = cli("unmount", "loop/spare");
    assertEquals(0, u.code(), u.err());
    assertEquals("unmounted and released loop/spare\n", u.out());
    CliRun rm = cli("remove", "loop/spare");
    assertEquals(0, rm.code(), rm.err());
    assertEquals(2, cli("-o", "json", "volumes").json().get("volumes").size());
  }

  @Test
  void finding1_mountOfAPoolImageWithAPartitionTableFailsAndLeavesItUntouched() throws Exception {
    assertEquals(0, cli("create", "loop/parted", "-O", "size=32MiB").code());
    Path image = t.pool.resolve("parted.img");
    DiskImages.writeMbrWithData(image);
    String before = DiskImages.sha256(image);
    CliRun m = cli("mount", "loop/parted");
    assertEquals(ExitCodes.ERROR, m.code(), m.out());
    assertTrue(m.err().startsWith("dvdi INVALID_REQUEST: "), m.err());
    assertTrue(m.err().contains("has a dos partition table (PTTYPE=dos"), m.err());
    assertEquals(before, DiskImages.sha256(image), "the image is unchanged");
    assertFalse(KernelMounts.read().isMountPoint(t.mountRoot.resolve("loop/parted")), "nothing is mounted");
    assertTrue(LeakCheck.loops().stream().noneMatch(l -> l.endsWith(image.toString())), "nothing is attached: "
        + LeakCheck.loops());
    assertEquals(0, cli("remove", "loop/parted").code());
  }

  @Test
  void issue13_hole4_aPoolImageWithoutMetadataIsNeverReplacedAndIsAdoptedByCreate() throws Exception {
    Path image = t.pool.resolve("orphan.img");
    DiskImages.writeExt4WithFile(image, 32L << 20, "f", "precious\n");
    String before = DiskImages.sha256(image);
    CliRun m = cli("mount", "loop/orphan");
    assertEquals(ExitCodes.ERROR, m.code(), m.out());
    assertTrue(m.err().startsWith("dvdi PROVIDER_FAILURE: "), m.err());
    assertTrue(m.err().contains(image.toString()) && m.err().contains("dvdi create loop/orphan -O adopt=true"), m.err());
    assertEquals(before, DiskImages.sha256(image), "the image is unchanged");
    assertTrue(LeakCheck.loops().stream().noneMatch(l -> l.endsWith(image.toString())), "nothing is attached");
    CliRun plain = cli("create", "loop/orphan");
    assertEquals(ExitCodes.ERROR, plain.code(), plain.out());
    assertEquals(before, DiskImages.sha256(image), "the image is unchanged");
    JsonNode listed = null;
    for (JsonNode v : cli("-o", "json", "volumes").json().get("volumes")) {
      listed = v.get("name").asText().equals("orphan") ? v : listed;
    }
    assertEquals("no-metadata", listed.get("status").asText(), String.valueOf(listed));
    assertTrue(listed.get("details").get("problem").asText().contains("adopt=true"), String.valueOf(listed));

    CliRun adopted = cli("create", "loop/orphan", "-O", "adopt=true");
    assertEquals(0, adopted.code(), adopted.err());
    assertEquals(before, DiskImages.sha256(image), "adopting writes nothing into the image");
    CliRun mounted = cli("mount", "loop/orphan");
    assertEquals(0, mounted.code(), mounted.err());
    assertEquals("precious\n", Files.readString(Path.of(mounted.out().trim()).resolve("f")));
    assertEquals(0, cli("unmount", "loop/orphan").code());
    assertEquals(0, cli("remove", "loop/orphan").code());
  }

  @Test
  void usageErrors() {
    assertEquals(ExitCodes.USAGE, cli("inspect").code());
    assertEquals(ExitCodes.USAGE, cli("release", "nodriver").code());
    assertEquals(ExitCodes.USAGE, cli("-o", "yaml", "mounts").code());
    CliRun badSetting = cli("--set", "no.such=1", "mounts");
    assertEquals(ExitCodes.ERROR, badSetting.code());
    assertTrue(badSetting.err().startsWith("dvdi INVALID_CONFIG: unknown setting 'no.such'"), badSetting.err());
  }
}
