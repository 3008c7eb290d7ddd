package org.dvdi.core.request;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.core.testing.LongPaths;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The DVDI environment variables, as users of mesos-module-dvdi write them, and their rules. */
class EnvRequestsTest {
  static List<VolumeRequest> parse(Map<String, String> env) {
    List<VolumeRequest> v = EnvRequests.parse(env, "rexray");
    MesosRequests.checkDistinct(v);
    return v;
  }

  static DvdiException rejected(Map<String, String> env) {
    DvdiException e = assertThrows(DvdiException.class, () -> parse(env));
    assertEquals(ErrorCode.INVALID_REQUEST, e.getCode(), e.getMessage());
    return e;
  }

  @Test
  void theDesignExampleParses() {
    Map<String, String> env = new HashMap<>();
    env.put("DVDI_VOLUME_NAME", "webdata");
    env.put("DVDI_VOLUME_DRIVER", "rexray");
    env.put("DVDI_VOLUME_OPTS", "size=5,iops=150,volumetype=io1,newfstype=xfs,overwritefs=false");
    env.put("DVDI_VOLUME_CONTAINERPATH", "/data");
    env.put("DVDI_VOLUME_NAME1", "secondvolume");
    env.put("DVDI_VOLUME_DRIVER1", "RexRay");
    env.put("DVDI_VOLUME_OPTS1", "size=6,volumetype=gp2,newfstype=ext4");
    env.put("PATH", "/usr/bin");
    List<VolumeRequest> v = parse(env);
    assertEquals(2, v.size());
    VolumeRequest a = v.get(0);
    assertEquals("rexray", a.driver());
    assertEquals("webdata", a.name());
    assertEquals("/data", a.containerPath());
    assertEquals(List.of("size", "iops", "volumetype", "newfstype", "overwritefs"), List.copyOf(a.options().asMap().keySet()));
    assertEquals("150", a.options().asMap().get("iops"));
    assertFalse(a.readOnly());
    assertFalse(a.explicitCreate());
    assertEquals("", a.envSuffix());
    VolumeRequest b = v.get(1);
    assertEquals("rexray", b.driver(), "driver names are case-insensitive");
    assertEquals("", b.containerPath(), "no container path: no bind");
    assertEquals("1", b.envSuffix());
  }

  @Test
  void defaultDriverFlagsAndRelativePaths() {
    List<VolumeRequest> v = parse(Map.of("DVDI_VOLUME_NAME3", "x", "DVDI_VOLUME_READONLY3", "TRUE",
        "DVDI_VOLUME_EXPLICITCREATE3", "yes", "DVDI_VOLUME_CONTAINERPATH3", "./data//in/"));
    assertEquals("rexray", v.get(0).driver());
    assertTrue(v.get(0).readOnly());
    assertTrue(v.get(0).explicitCreate());
    assertTrue(v.get(0).options().explicitCreate());
    assertEquals("data/in", v.get(0).containerPath());
  }

  @Test
  void noDvdiVariablesMeansNoVolumes() {
    assertTrue(parse(Map.of("HOME", "/root", "DVDI_OTHER", "x")).isEmpty());
  }

  @Test
  void aTypoIsAnErrorNamingTheVariable() {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPAHT", "/data"));
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_CONTAINERPAHT is not a DVDI variable"), e.getMessage());
  }

  @Test
  void theDvdcliPathFromATaskIsRefused() {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_DVDCLI", "/tmp/evil"));
    assertTrue(e.getMessage().contains("DVDI_VOLUME_DVDCLI is refused"), e.getMessage());
    assertTrue(e.getMessage().contains("providers.dvdcli.path"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "DVDI_VOLUME_NAME10|a|suffix '10'",
      "DVDI_VOLUME_NAME0|a|suffix '0'",
      "DVDI_VOLUME_NAME|a/b|DVDI_VOLUME_NAME is 'a/b': a volume name must be",
      "DVDI_VOLUME_NAME|-rf|DVDI_VOLUME_NAME is '-rf'",
      "DVDI_VOLUME_NAME|a;rm -rf /|DVDI_VOLUME_NAME is 'a;rm -rf /'",
      "DVDI_VOLUME_NAME||DVDI_VOLUME_NAME is ''"})
  void badNames(String var, String value, String expected) {
    Map<String, String> env = new HashMap<>();
    env.put(var, value == null ? "" : value);
    DvdiException e = rejected(env);
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "../etc|may not contain '..'",
      "/data/../../etc|may not contain '..'",
      "/|over the container's root",
      "/proc/self|reserved",
      "/data dir|a container path may hold only",
      "/da$ta|a container path may hold only"})
  void badContainerPaths(String path, String expected) {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", path));
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_CONTAINERPATH is"), e.getMessage());
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "size|has no '='",
      "size=1,size=2|given twice",
      "si ze=1|option key 'si ze'",
      "size=$(id)|option 'size' is '$(id)'",
      "a=b`c|option 'a'"})
  void badOptions(String opts, String expected) {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_OPTS", opts));
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_OPTS"), e.getMessage());
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }

  @Test
  void fieldsWithoutAName() {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_OPTS2", "size=1"));
    assertEquals("DVDI_VOLUME_OPTS2 is given without DVDI_VOLUME_NAME2", e.getMessage());
  }

  @Test
  void badFlags() {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_READONLY", "perhaps"));
    assertEquals("DVDI_VOLUME_READONLY is 'perhaps': must be true or false", e.getMessage());
  }

  @Test
  void theSameVolumeTwice() {
    DvdiException twice = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_NAME1", "a"));
    assertTrue(twice.getMessage().contains("rexray/a again"), twice.getMessage());
    // Two volumes at one container path: LaunchPlannerTest (compared where they resolve).
    // The same name under two drivers is two volumes.
    assertEquals(2, parse(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_NAME1", "a", "DVDI_VOLUME_DRIVER1", "loop")).size());
  }

  @Test
  void finding11_eachVolumeNamesItsContainerPathVariable() {
    List<VolumeRequest> v = parse(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_NAME2", "b",
        "DVDI_VOLUME_CONTAINERPATH2", "data"));
    assertEquals("DVDI_VOLUME_NAME2", v.get(1).source());
    assertEquals("DVDI_VOLUME_CONTAINERPATH2", v.get(1).pathSource());
    assertEquals("DVDI_VOLUME_CONTAINERPATH", v.get(0).pathSource());
  }

  static void assertSafeToLog(String message) {
    for (char c : message.toCharArray()) {
      assertTrue(c >= 0x20 && c < 0x7f, "control or non-ASCII character " + (int) c + " in: " + message);
    }
    assertTrue(message.length() < 600, "an error of " + message.length() + " characters");
  }

  @Test
  void finding12_aNewlineOrEscInAFlagIsEscapedInTheError() {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_READONLY",
        "no\nI0101 00:00:00 dvdi] forged \u001b[2J"));
    assertSafeToLog(e.getMessage());
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_READONLY is 'no\\x0aI0101"), e.getMessage());
    assertTrue(e.getMessage().contains("\\x1b[2J"), e.getMessage());
  }

  @Test
  void finding12_aHugeValueIsCutInTheError() {
    String big = "x".repeat(10_000);
    for (String var : List.of("DVDI_VOLUME_READONLY", "DVDI_VOLUME_EXPLICITCREATE", "DVDI_VOLUME_NAME",
        "DVDI_VOLUME_DRIVER", "DVDI_VOLUME_OPTS")) {
      Map<String, String> env = new HashMap<>(Map.of("DVDI_VOLUME_NAME", "a"));
      env.put(var, big);
      assertSafeToLog(rejected(env).getMessage());
    }
    assertSafeToLog(rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_OPTS", "k=" + big)).getMessage());
    assertSafeToLog(rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH",
        "/a".repeat(2000) + "/..")).getMessage());
  }

  @Test
  void finding12_unknownVariableNamesAreEscapedAndCut() {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_X\nI0101 forged", "1"));
    assertSafeToLog(e.getMessage());
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_X\\x0aI0101 forged is not a DVDI variable"), e.getMessage());
    assertSafeToLog(rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_" + "Y".repeat(10_000), "1")).getMessage());
    assertSafeToLog(rejected(Map.of("DVDI_VOLUME_NAME" + "1".repeat(10_000), "a")).getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"size=5\n", "\tsize=5", "size=5,\u001bnewfstype=xfs", "size=5\r,iops=1", "size=\u007f5"})
  void finding12_controlCharactersInOptionsAreRefused(String opts) {
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_OPTS", opts));
    assertSafeToLog(e.getMessage());
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_OPTS"), e.getMessage());
    assertTrue(e.getMessage().contains("control character"), e.getMessage());
  }

  @Test
  void spacesAroundOptionsStillDoNotMatter() {
    assertEquals(Map.of("size", "5", "iops", "1"),
        parse(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_OPTS", " size = 5 , iops=1 ")).get(0).options().asMap());
  }

  @Test
  void finding12_printableEscapesEverythingAmbiguous() {
    assertEquals("a\\x0ab\\\\x0a\u00e9\\u202e\\u0085\\u2028\\ud800|\ud83d\ude00",
        Grammar.printable("a\nb\\x0a\u00e9\u202e\u0085\u2028\ud800|\ud83d\ude00"));
    assertEquals("y".repeat(200) + "... (10000 characters)", Grammar.printable("y".repeat(10_000)));
    // A character of two UTF-16 units is never cut in half.
    assertEquals("y".repeat(199) + "\ud83d\ude00... (203 characters)", Grammar.printable("y".repeat(199) + "\ud83d\ude00xx"));
  }

  @Test
  void hole9_aContainerPathComponentOverNameMaxIsRefusedNamingTheFieldAndTheRule() {
    String longest = "d/" + "c".repeat(255);
    assertEquals(longest, parse(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", longest)).get(0).containerPath());
    String path = "d/" + "c".repeat(256) + "/e";
    DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH3", path, "DVDI_VOLUME_NAME3", "b"));
    assertSafeToLog(e.getMessage());
    assertTrue(e.getMessage().startsWith("DVDI_VOLUME_CONTAINERPATH3 is 'd/ccc"), e.getMessage());
    assertTrue(e.getMessage().contains("... (260 characters)"), "the value is cut: " + e.getMessage());
    assertTrue(e.getMessage().contains("component 2") && e.getMessage().contains("256 bytes")
        && e.getMessage().contains("NAME_MAX"), e.getMessage());
  }

  @Test
  void hole9_aContainerPathOverPathMaxIsRefusedNamingTheFieldAndTheRule() {
    // PATH_MAX (4096) counts the terminating NUL: the kernel takes paths of at most 4095 bytes.
    String longest = "/data/" + LongPaths.relative(4095 - 6);
    assertEquals(longest, parse(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", longest)).get(0).containerPath());
    for (String path : List.of(longest + "p", "/data/" + LongPaths.relative(8000))) {
      DvdiException e = rejected(Map.of("DVDI_VOLUME_NAME", "a", "DVDI_VOLUME_CONTAINERPATH", path));
      assertSafeToLog(e.getMessage());
      assertTrue(e.getMessage().startsWith("DVDI_VOLUME_CONTAINERPATH is '/data/ppp"), e.getMessage());
      assertTrue(e.getMessage().contains("... (" + path.length() + " characters)"), "the value is cut: " + e.getMessage());
      assertTrue(e.getMessage().contains(path.length() + " bytes") && e.getMessage().contains("PATH_MAX"), e.getMessage());
    }
  }
}
