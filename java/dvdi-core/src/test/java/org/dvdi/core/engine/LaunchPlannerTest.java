package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.testing.LongPaths;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.testing.TmpDirs;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Where binds go and which requests are refused before any provider call, on temporary
 * directories (no root needed: nothing is mounted). They are under the host's /tmp whatever
 * the checkout's place ({@link TmpDirs}, named here, not only as the build's default): the host
 * paths these tests hand the policy must not lie in a tree it protects, such as /root.
 */
class LaunchPlannerTest {
  @TempDir(factory = TmpDirs.class)
  Path tmp;

  Path sandbox;
  Path rootfs;
  final Map<String, String> settings = new HashMap<>();

  @BeforeEach
  void setUp() throws IOException {
    sandbox = Files.createDirectories(tmp.resolve("sandbox"));
    rootfs = Files.createDirectories(tmp.resolve("rootfs"));
    settings.put(DvdiConfig.STATE_DIR, tmp.resolve("state").toString());
    settings.put(DvdiConfig.MOUNT_ROOT, tmp.resolve("volumes").toString());
  }

  LaunchPlanner planner() {
    return new LaunchPlanner(new DvdiConfig(new Settings(settings, "test")));
  }

  PrepareRequest request(Path root, Map<String, String> env) {
    return new PrepareRequest("c1", sandbox, root, null, EnvRequests.parse(env, "loop"));
  }

  LaunchPlan plan(Path root, Map<String, String> env) {
    return planner().plan(request(root, env));
  }

  DvdiException refused(Path root, Map<String, String> env) {
    DvdiException e = assertThrows(DvdiException.class, () -> plan(root, env));
    assertEquals(ErrorCode.INVALID_REQUEST, e.getCode(), e.getMessage());
    return e;
  }

  static VolumeKey key(String name) {
    return new VolumeKey("loop", name);
  }

  static void assertContains(String message, String... parts) {
    for (String p : parts) {
      assertTrue(message.contains(p), "'" + p + "' not in: " + message);
    }
  }

  // ------------------------------------------------------------------ finding 5

  @ParameterizedTest
  @ValueSource(strings = {"/etc", "/usr/local/bin", "/bin", "/sbin", "/lib", "/lib64", "/boot", "/root",
      "/var/lib/mesos", "/var", "/home"})
  void finding5_hostDirectoriesOutsideThePrefixesAreRefused(String path) {
    DvdiException e = refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", path));
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_CONTAINERPATH is '" + path + "'"), e.getMessage());
    assertContains(e.getMessage(), DvdiConfig.CONTAINER_PATH_PREFIXES);
  }

  @Test
  void finding5_protectedTreesInsideAPrefixAreRefused() {
    settings.put(DvdiConfig.CONTAINER_PATH_PREFIXES, "/var," + tmp);
    for (String p : List.of("/var/lib/mesos/slaves", "/var/lib", "/var/run/mesos", tmp.resolve("state").toString(),
        tmp.resolve("volumes/loop/x").toString(), tmp.toString())) {
      DvdiException e = refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", p));
      assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH is '" + p + "'", "may not cover");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"/", "/etc", "/usr", "/lib32", "/var/lib/mesos", "/run/mesos/x", "/var/lib/mesos/../x"})
  void finding5_anOperatorCannotListAProtectedTree(String prefix) {
    settings.put(DvdiConfig.CONTAINER_PATH_PREFIXES, "/data," + prefix);
    DvdiException e = assertThrows(DvdiException.class, this::planner);
    assertEquals(ErrorCode.INVALID_CONFIG, e.getCode());
    assertContains(e.getMessage(), "setting '" + DvdiConfig.CONTAINER_PATH_PREFIXES + "'", "'" + prefix + "'");
  }

  @Test
  void finding5_theStateDirIsProtectedWhereverItIs() {
    settings.put(DvdiConfig.CONTAINER_PATH_PREFIXES, tmp.resolve("state").toString());
    DvdiException e = assertThrows(DvdiException.class, this::planner);
    assertContains(e.getMessage(), DvdiConfig.CONTAINER_PATH_PREFIXES, DvdiConfig.STATE_DIR);
  }

  @Test
  void anExistingDirectoryUnderAPrefixIsBoundAsItIs() throws IOException {
    Path data = Files.createDirectories(tmp.resolve("data"));
    settings.put(DvdiConfig.CONTAINER_PATH_PREFIXES, data.toString());
    LaunchPlan plan = plan(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", data.toString()));
    assertEquals(data.toString(), plan.bindTarget(key("a")));
  }

  @Test
  void inAnImageAnAbsolutePathIsInsideItsRootfs() {
    LaunchPlanner p = planner();
    LaunchPlan plan = p.plan(request(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "/etc/app")));
    assertEquals(rootfs.resolve("etc/app").toString(), plan.bindTarget(key("a")));
    p.createTargets(plan);
    assertTrue(Files.isDirectory(rootfs.resolve("etc/app"), LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void finding5_overwritefsIsRefusedUnlessTheOperatorAllowsIt() {
    Map<String, String> env = Map.of("DVDI_VOLUME_NAME1", "a", "DVDI_VOLUME_OPTS1", "size=1,overwritefs=true");
    DvdiException e = refused(null, env);
    assertContains(e.getMessage(), "DVDI_VOLUME_OPTS1 option 'overwritefs'", DvdiConfig.ALLOW_OVERWRITEFS);
    assertEquals(1, plan(null, Map.of("DVDI_VOLUME_NAME1", "a", "DVDI_VOLUME_OPTS1", "overwritefs=false"))
        .request().volumes().size());
    settings.put(DvdiConfig.ALLOW_OVERWRITEFS, "true");
    assertEquals(1, plan(null, env).request().volumes().size());
  }

  @Test
  void finding5_overwritefsIsNeverStored() {
    VolumeOptions asked = EnvRequests.parse(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_OPTS",
        "size=1,overwritefs=true,newfstype=xfs", "DVDI_VOLUME_EXPLICITCREATE", "true"), "loop").get(0).options();
    org.dvdi.core.state.proto.Volume record = MountTable.mounted(new org.dvdi.core.state.VolumeKey("loop", "a"), asked,
        "/h", "/dev/x", Map.of(), 0, new MountTable.Actor("t:1:b", "b", 0, o -> false));
    assertEquals(List.of("size", "newfstype"), List.copyOf(MountTable.options(record).asMap().keySet()),
        "what the engine stores for a later remount");
    VolumeOptions storable = org.dvdi.core.request.RequestPolicy.storable(asked);
    assertTrue(storable.explicitCreate());
    assertEquals(asked.origin(), storable.origin());
  }

  // ------------------------------------------------------------------ finding 6

  @Test
  void finding6_inAnImageARelativePathIsBoundUnderTheSandboxMountPoint() throws IOException {
    Files.createDirectories(rootfs.resolve("mnt/mesos/sandbox"));
    LaunchPlanner p = planner();
    LaunchPlan plan = p.plan(request(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data/in")));
    assertEquals(rootfs + "/mnt/mesos/sandbox/data/in", plan.bindTarget(key("a")));
    p.createTargets(plan);
    // The sandbox is bound over <rootfs>/mnt/mesos/sandbox inside the container: the mount point is made there.
    assertTrue(Files.isDirectory(sandbox.resolve("data/in"), LinkOption.NOFOLLOW_LINKS));
    assertFalse(Files.exists(rootfs.resolve("mnt/mesos/sandbox/data")));
  }

  @Test
  void finding6_theSandboxMountPointIsASetting() {
    settings.put(DvdiConfig.SANDBOX_DIRECTORY, "/sandbox");
    LaunchPlan plan = plan(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data"));
    assertEquals(rootfs + "/sandbox/data", plan.bindTarget(key("a")));
  }

  @Test
  void finding6_inAnImageAPathThatHidesTheSandboxIsRefused() {
    DvdiException e = refused(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "/mnt/mesos"));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH is '/mnt/mesos'", "sandbox");
  }

  @Test
  void withoutAnImageARelativePathIsInTheSandbox() {
    LaunchPlan plan = plan(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data"));
    assertEquals(sandbox.resolve("data").toString(), plan.bindTarget(key("a")));
    assertEquals("", plan(null, Map.of("DVDI_VOLUME_NAME", "a")).bindTarget(key("a")));
  }

  // ------------------------------------------------------------------ finding 11

  @Test
  void finding11_aSymbolicLinkInTheContainerPathIsRefusedBeforeAnythingIsDone() throws IOException {
    Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
    Files.createSymbolicLink(sandbox.resolve("link"), elsewhere);
    DvdiException e = refused(null, Map.of("DVDI_VOLUME_NAME2", "a", "DVDI_VOLUME_CONTAINERPATH2", "link/x"));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH2 is 'link/x'", "symbolic link");
    assertFalse(Files.exists(elsewhere.resolve("x")));
  }

  @Test
  void finding11_aSymbolicLinkInsideAnImageIsRefusedBeforeAnythingIsDone() throws IOException {
    Files.createDirectories(rootfs.resolve("usr/lib"));
    Files.createSymbolicLink(rootfs.resolve("lib"), Path.of("usr/lib"));
    DvdiException e = refused(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "/lib/x"));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH is '/lib/x'", "symbolic link");
  }

  @Test
  void finding11_aFileInTheContainerPathIsRefusedBeforeAnythingIsDone() throws IOException {
    Files.writeString(sandbox.resolve("stdout"), "");
    DvdiException e = refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "stdout/x"));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH is 'stdout/x'", "not a directory");
  }

  @Test
  void finding11_aMissingHostDirectoryIsRefusedNamingThePathField() {
    String missing = "/data/dvdi-test-" + System.nanoTime();
    DvdiException e = refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", missing));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH is '" + missing + "'", "does not exist");
  }

  @Test
  void finding11_dockerVolumeErrorsNameTheContainerPathField() throws IOException {
    Files.createSymbolicLink(sandbox.resolve("link"), tmp);
    VolumeRequest v = new VolumeRequest("loop", "a", VolumeOptions.EMPTY, "link", false, false,
        "container_info.volumes[3]", null, "container_info.volumes[3].container_path");
    DvdiException e = assertThrows(DvdiException.class,
        () -> planner().plan(new PrepareRequest("c1", sandbox, null, null, List.of(v))));
    assertContains(e.getMessage(), "container_info.volumes[3].container_path is 'link'");
  }

  @Test
  void finding11_twoPathsThatResolveToOnePlaceAreRefused() throws IOException {
    DvdiException e = refused(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data",
        "DVDI_VOLUME_NAME1", "b", "DVDI_VOLUME_CONTAINERPATH1", "/mnt/mesos/sandbox/data"));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH1 is '/mnt/mesos/sandbox/data'",
        "DVDI_VOLUME_CONTAINERPATH ('data')", rootfs + "/mnt/mesos/sandbox/data");
    settings.put(DvdiConfig.CONTAINER_PATH_PREFIXES, tmp.toString());
    Files.createDirectories(sandbox.resolve("data"));
    DvdiException host = refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data",
        "DVDI_VOLUME_NAME1", "b", "DVDI_VOLUME_CONTAINERPATH1", sandbox.resolve("data").toString()));
    assertContains(host.getMessage(), "DVDI_VOLUME_CONTAINERPATH", "the same place");
    DvdiException lexical = refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "d",
        "DVDI_VOLUME_NAME1", "b", "DVDI_VOLUME_CONTAINERPATH1", "./d/"));
    assertContains(lexical.getMessage(), "the same place");
  }

  @Test
  void finding11_aVolumeInsideAnotherIsRefused() {
    DvdiException e = refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data/sub",
        "DVDI_VOLUME_NAME1", "b", "DVDI_VOLUME_CONTAINERPATH1", "data"));
    assertContains(e.getMessage(), "inside");
  }

  // ------------------------------------------------------------------ finding 8

  @Test
  void finding8_aSymbolicLinkPlantedAfterThePlanIsRefusedAndNotFollowed() throws IOException {
    LaunchPlanner p = planner();
    LaunchPlan plan = p.plan(request(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data/in")));
    Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
    Files.createSymbolicLink(sandbox.resolve("data"), elsewhere);
    DvdiException e = assertThrows(DvdiException.class, () -> p.createTargets(plan));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH is 'data/in'", "symbolic link");
    assertFalse(Files.exists(elsewhere.resolve("in")));
  }

  @Test
  void finding8_theWholeChainIsCheckedAgainBeforeHandOver() throws IOException {
    LaunchPlanner p = planner();
    LaunchPlan plan = p.plan(request(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", "data/in")));
    p.createTargets(plan);
    p.verifyTargets(plan);
    // Swapped after creation, before Mesos mounts: the check at hand-over sees it.
    Files.move(sandbox.resolve("data"), sandbox.resolve("moved"));
    Files.createSymbolicLink(sandbox.resolve("data"), sandbox.resolve("moved"));
    DvdiException e = assertThrows(DvdiException.class, () -> p.verifyTargets(plan));
    assertContains(e.getMessage(), "DVDI_VOLUME_CONTAINERPATH is 'data/in'", "symbolic link");
  }

  // ------------------------------------------------------------------ hole 9

  static void assertOverlong(DvdiException e, String field) {
    assertContains(e.getMessage(), field + " is 'ppp", "PATH_MAX", "... (");
    assertTrue(e.getMessage().length() < 1000, "an error of " + e.getMessage().length() + " characters: " + e.getMessage());
  }

  @Test
  void hole9_aRelativePathThatFitsAsGivenButNotBelowTheSandboxIsRefusedBeforeAnythingIsDone() {
    String rel = LongPaths.relative(4095 - sandbox.toString().length());
    assertEquals(4096, sandbox.resolve(rel).toString().length(), "one byte too many below the sandbox");
    assertOverlong(refused(null, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", rel)),
        "DVDI_VOLUME_CONTAINERPATH");
    assertFalse(Files.exists(sandbox.resolve("ppp")));
    // One byte less fits.
    String fits = LongPaths.relative(4095 - sandbox.toString().length() - 1);
    assertEquals(sandbox.resolve(fits).toString(), plan(null, Map.of("DVDI_VOLUME_NAME", "a",
        "DVDI_VOLUME_CONTAINERPATH", fits)).bindTarget(key("a")));
  }

  @Test
  void hole9_inAnImageTheBindTargetBelowTheImagesSandboxMustFitToo() {
    String rel = LongPaths.relative(4095 - sandbox.toString().length() - 1);
    assertOverlong(refused(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", rel)),
        "DVDI_VOLUME_CONTAINERPATH");
    String abs = "/" + LongPaths.relative(4095 - rootfs.toString().length());
    assertContains(refused(rootfs, Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", abs)).getMessage(),
        "DVDI_VOLUME_CONTAINERPATH is '/ppp", "PATH_MAX");
  }

  @Test
  void hole9_theLimitIsInBytesOfUtf8() throws IOException {
    Path wide = Files.createDirectories(tmp.resolve("\u00e9".repeat(100)));
    String rel = LongPaths.relative(4095 - wide.toString().length() - 1);
    assertEquals(4095, wide.resolve(rel).toString().length(), "fits in characters");
    VolumeRequest v = EnvRequests.parse(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", rel), "loop").get(0);
    DvdiException e = assertThrows(DvdiException.class,
        () -> planner().plan(new PrepareRequest("c1", wide, null, null, List.of(v))));
    assertEquals(ErrorCode.INVALID_REQUEST, e.getCode(), e.getMessage());
    assertContains(e.getMessage(), "4195 bytes", "PATH_MAX");
  }

  @Test
  void hole9_anOverlongPathFailsThePrepareBeforeAnyProviderIsMade() throws IOException {
    org.dvdi.core.TestDvdi t = new org.dvdi.core.TestDvdi(tmp.resolve("dvdi"));
    try (org.dvdi.core.Dvdi d = t.open(org.dvdi.core.Dvdi.WRITER_AGENT)) {
      Path box = tmp.resolve("dvdi/sandboxes/c1");
      PrepareRequest req = t.request("c1", Map.of("DVDI_VOLUME_NAME", "a",
          "DVDI_VOLUME_CONTAINERPATH", LongPaths.relative(4095 - box.toString().length())));
      java.util.concurrent.CompletionException x = assertThrows(java.util.concurrent.CompletionException.class,
          () -> d.manager().prepare(req).join());
      DvdiException e = DvdiException.wrap(x.getCause(), "prepare");
      assertEquals(ErrorCode.INVALID_REQUEST, e.getCode(), e.getMessage());
      assertOverlong(e, "DVDI_VOLUME_CONTAINERPATH");
      assertEquals(Map.of(), d.providers().active(), "no provider was even made");
      assertTrue(d.state().view().containers().isEmpty(), "nothing was recorded");
    }
  }
}
