package org.dvdi.core.request;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.dvdi.core.json.Json;
import org.dvdi.core.testing.LongPaths;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.Test;

/** ContainerConfig as the Mesos adapter sends it (JSON of mesos.proto), for both request styles. */
class MesosRequestsTest {
  static Json.Node json(String s) {
    return Json.parse(s.replace('\'', '"'), "test");
  }

  @Test
  void dockerVolumesAndDvdiVariablesTogether() throws Exception {
    Json.Node id = json("{'value':'c2','parent':{'value':'c1'}}");
    Json.Node cfg = json("{'directory':'/sandbox/c2','user':'nobody',"
        + "'command_info':{'environment':{'variables':["
        + "  {'name':'DVDI_VOLUME_NAME','value':'envvol'},"
        + "  {'name':'DVDI_VOLUME_DRIVER','value':'loop'},"
        + "  {'name':'PASSWORD','type':'SECRET','secret':{'type':'REFERENCE'}}]}},"
        + "'executor_info':{'command':{'environment':{'variables':[{'name':'DVDI_VOLUME_NAME5','value':'parentvol'}]}}},"
        + "'container_info':{'type':'MESOS','volumes':["
        + "  {'mode':'RO','container_path':'/etc/app','source':{'type':'DOCKER_VOLUME',"
        + "     'docker_volume':{'driver':'rexray','name':'conf','driver_options':{'parameter':[{'key':'size','value':'1'}]}}}},"
        + "  {'mode':'RW','container_path':'rel/dir','source':{'type':'DOCKER_VOLUME','docker_volume':{'driver':'loop','name':'data'}}},"
        + "  {'mode':'RW','container_path':'/host','host_path':'/srv'}]}}");
    PrepareRequest r = MesosRequests.parse(id, cfg, "rexray");
    assertEquals("c1.c2", r.containerId());
    assertEquals(Path.of("/sandbox/c2"), r.sandbox());
    assertNull(r.rootfs());
    assertEquals("nobody", r.user());
    assertEquals(3, r.volumes().size(), "nested: the executor's DVDI variables are not the child's; host_path volumes are other isolators'");
    assertEquals("loop/envvol", r.volumes().get(0).key().toString());
    VolumeRequest conf = r.volumes().get(1);
    assertEquals("rexray/conf", conf.key().toString());
    assertTrue(conf.readOnly());
    assertEquals("/etc/app", conf.containerPath());
    assertEquals("1", conf.options().asMap().get("size"));
    assertEquals("container_info.volumes[0]", conf.source());
    assertEquals("rel/dir", r.volumes().get(2).containerPath());
  }

  @Test
  void topLevelContainersAlsoReadTheExecutorsEnvironment() throws Exception {
    Json.Node cfg = json("{'executor_info':{'command':{'environment':{'variables':[{'name':'DVDI_VOLUME_NAME','value':'a'}]}}}}");
    PrepareRequest r = MesosRequests.parse(json("{'value':'top'}"), cfg, "loop");
    assertEquals(1, r.volumes().size());
  }

  @Test
  void dockerVolumeRules() throws Exception {
    DvdiException noDriver = assertThrows(DvdiException.class, () -> MesosRequests.parse(json("{'value':'c'}"),
        json("{'container_info':{'volumes':[{'container_path':'/d','source':{'type':'DOCKER_VOLUME','docker_volume':{'name':'x'}}}]}}"),
        "rexray"));
    assertEquals("container_info.volumes[0].source.docker_volume.driver is missing: a DOCKER_VOLUME needs a driver",
        noDriver.getMessage());
    DvdiException twice = assertThrows(DvdiException.class, () -> MesosRequests.parse(json("{'value':'c'}"), json(
        "{'command_info':{'environment':{'variables':[{'name':'DVDI_VOLUME_NAME','value':'x'},{'name':'DVDI_VOLUME_DRIVER','value':'loop'}]}},"
            + "'container_info':{'volumes':[{'container_path':'/d','source':{'type':'DOCKER_VOLUME','docker_volume':{'driver':'loop','name':'x'}}}]}}"),
        "rexray"));
    assertTrue(twice.getMessage().contains("loop/x again"), twice.getMessage());
    DvdiException badId = assertThrows(DvdiException.class, () -> MesosRequests.parse(json("{'value':'../x'}"), json("{}"), "r"));
    assertTrue(badId.getMessage().startsWith("container_id.value is '../x'"), badId.getMessage());
  }

  @Test
  void finding8_debugContainersGetNoVolumes() {
    String env = "'command_info':{'environment':{'variables':[{'name':'DVDI_VOLUME_NAME','value':'a'}]}},"
        + "'container_info':{'type':'MESOS','volumes':[{'container_path':'d','source':{'type':'DOCKER_VOLUME',"
        + "'docker_volume':{'driver':'loop','name':'b'}}}]}";
    Json.Node id = json("{'value':'dbg','parent':{'value':'top'}}");
    PrepareRequest debug = MesosRequests.parse(id, json("{'container_class':'DEBUG'," + env + "}"), "loop");
    assertEquals("top.dbg", debug.containerId());
    assertTrue(debug.volumes().isEmpty(), debug.volumes().toString());
    assertEquals(2, MesosRequests.parse(id, json("{'container_class':'DEFAULT'," + env + "}"), "loop").volumes().size());
  }

  @Test
  void finding11_dockerVolumesNameTheirContainerPathField() {
    PrepareRequest r = MesosRequests.parse(json("{'value':'c'}"), json("{'container_info':{'volumes':["
        + "{'container_path':'/h','host_path':'/srv'},"
        + "{'container_path':'d','source':{'type':'DOCKER_VOLUME','docker_volume':{'driver':'loop','name':'b'}}}]}}"),
        "loop");
    assertEquals("container_info.volumes[1]", r.volumes().get(0).source());
    assertEquals("container_info.volumes[1].container_path", r.volumes().get(0).pathSource());
  }

  @Test
  void driverOptionsWithControlCharactersAreRefusedAndEscaped() {
    DvdiException e = assertThrows(DvdiException.class, () -> MesosRequests.parse(json("{'value':'c'}"), json(
        "{'container_info':{'volumes':[{'container_path':'d','source':{'type':'DOCKER_VOLUME','docker_volume':"
            + "{'driver':'loop','name':'b','driver_options':{'parameter':[{'key':'size','value':'5\\n\\u001b'}]}}}}]}}"),
        "loop"));
    assertTrue(e.getMessage().startsWith("container_info.volumes[0].source.docker_volume.driver_options option 'size' is '5\\x0a\\x1b'"),
        e.getMessage());
  }

  @Test
  void hole9_anOverlongDockerVolumeContainerPathIsRefusedNamingItsField() {
    for (String path : List.of("d/" + "c".repeat(256), "/data/" + LongPaths.relative(4090))) {
      DvdiException e = assertThrows(DvdiException.class, () -> MesosRequests.parse(json("{'value':'c'}"), json(
          "{'container_info':{'volumes':[{'container_path':'" + path + "','source':{'type':'DOCKER_VOLUME',"
              + "'docker_volume':{'driver':'loop','name':'b'}}}]}}"), "loop"));
      assertEquals(ErrorCode.INVALID_REQUEST, e.getCode());
      EnvRequestsTest.assertSafeToLog(e.getMessage());
      assertTrue(e.getMessage().startsWith("container_info.volumes[0].container_path is '"), e.getMessage());
      assertTrue(e.getMessage().contains(path.length() > 300 ? "PATH_MAX" : "NAME_MAX"), e.getMessage());
    }
  }

  @Test
  void hole11b_aNestedIdNeverCollidesWithATopLevelOne() {
    // Mesos prints a nested ContainerID "parent.child", and refuses '.' inside a value for that
    // reason (slave/validation.cpp, validateContainerId): dvdi joins them the same way, so its ids
    // are the ones in the agent's log, and holds values to the same rule.
    assertEquals("a.b", MesosRequests.containerId(json("{'value':'b','parent':{'value':'a'}}"), "container_id"));
    assertEquals("a.b.c", MesosRequests.containerId(json("{'value':'c','parent':{'value':'b','parent':{'value':'a'}}}"),
        "container_id"));
    DvdiException top = assertThrows(DvdiException.class,
        () -> MesosRequests.containerId(json("{'value':'a.b'}"), "container_id"));
    assertEquals(ErrorCode.INVALID_REQUEST, top.getCode());
    assertTrue(top.getMessage().startsWith("container_id.value is 'a.b'") && top.getMessage().contains("'.'"),
        top.getMessage());
    DvdiException parent = assertThrows(DvdiException.class,
        () -> MesosRequests.containerId(json("{'value':'c','parent':{'value':'a.b'}}"), "states[].container_id"));
    assertTrue(parent.getMessage().startsWith("states[].container_id.parent.value is 'a.b'"), parent.getMessage());
    assertThrows(DvdiException.class, () -> MesosRequests.parse(json("{'value':'b.c','parent':{'value':'a'}}"),
        json("{}"), "loop"), "a prepare builds its id with the same function");
  }
}
