package org.dvdi.core.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.dvdi.core.json.Json;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JNI facade without the native side: init, the envelope, errors as codes, async completion. */
class FacadeTest {
  @TempDir
  Path tmp;

  @AfterEach
  void shutdown() {
    Facade.shutdownForTests();
  }

  String init() throws Exception {
    return Facade.init("{\"settings\":{\"state.dir\":\"" + tmp.resolve("s") + "\",\"mount.root\":\"" + tmp.resolve("v")
        + "\",\"providers.loop.pool\":\"" + tmp.resolve("p") + "\",\"driver.default\":\"loop\"}}");
  }

  @Test
  void initDescribesTheRunningDvdiAndRefusesOtherParameters() throws Exception {
    Json.Node d = Json.parse(init(), "t");
    assertEquals(tmp.resolve("s").toString(), d.path("state_dir").asText(null));
    assertTrue(d.path("providers").size() >= 1);
    // the native recover's deadline comes from it: unmount+detach, then the longer of that and attach+mount, with grace
    assertEquals(String.valueOf(4 * (120_000 + 2_000)), d.path("recover_bound_ms").asText(null), d.toString());
    assertEquals(init(), init(), "the same parameters: the same dvdi");
    DvdiException other = assertThrows(DvdiException.class, () -> Facade.init("{}"));
    assertEquals(ErrorCode.INVALID_CONFIG, other.getCode());
  }

  @Test
  void badConfigIsAnInvalidConfigError() {
    DvdiException e = assertThrows(DvdiException.class, () -> Facade.init("{\"settings\":{\"no.such.key\":\"1\"}}"));
    assertEquals(ErrorCode.INVALID_CONFIG, e.getCode());
    assertTrue(e.getMessage().startsWith("unknown setting 'no.such.key'"), e.getMessage());
  }

  @Test
  void errorsCrossAsCodesAndMessages() throws Exception {
    init();
    Json.Node bad = Json.parse(Facade.call("prepare", "{\"container_id\":{\"value\":\"c1\"},\"container_config\":"
        + "{\"command_info\":{\"environment\":{\"variables\":[{\"name\":\"DVDI_VOLUME_NAME\",\"value\":\"a/b\"}]}}}}"), "t");
    assertEquals(false, bad.path("ok").asBoolean(true));
    assertEquals("INVALID_REQUEST", bad.path("code").asText(null));
    assertTrue(bad.path("message").asText("").startsWith("DVDI_VOLUME_NAME is 'a/b'"), bad.toString());
    assertEquals("INVALID_REQUEST", Json.parse(Facade.call("prepare", "{nope"), "t").path("code").asText(null));
    assertEquals("INVALID_REQUEST", Json.parse(Facade.call("frobnicate", "{}"), "t").path("code").asText(null));
    Json.Node none = Json.parse(Facade.call("prepare", "{\"container_id\":{\"value\":\"c2\"},\"container_config\":{}}"), "t");
    assertTrue(none.path("result").path("launch_info").isMissing(), "no volumes: no launch info");
    Json.Node cleanup = Json.parse(Facade.call("cleanup", "{\"container_id\":{\"value\":\"never-seen\"}}"), "t");
    assertEquals(false, cleanup.path("result").path("known").asBoolean(true));
  }

  @Test
  void submitCompletesThroughTheCompleter() throws Exception {
    init();
    CompletableFuture<String> done = new CompletableFuture<>();
    Facade.setCompleter((tag, ok, code, message, result) -> done.complete(tag + " " + ok + " " + code + " "
        + new String(message, StandardCharsets.UTF_8) + new String(result, StandardCharsets.UTF_8)));
    try {
      Facade.submit(7, "cleanup", "{\"container_id\":{\"value\":\"x\"}}".getBytes(StandardCharsets.UTF_8));
      String r = done.get(10, TimeUnit.SECONDS);
      assertTrue(r.startsWith("7 true  {\"known\":false"), r);
      CompletableFuture<String> failed = new CompletableFuture<>();
      Facade.setCompleter((tag, ok, code, message, result) -> failed.complete(tag + " " + ok + " " + code));
      Facade.submit(8, "cleanup", "{}".getBytes(StandardCharsets.UTF_8));
      assertEquals("8 false INVALID_REQUEST", failed.get(10, TimeUnit.SECONDS));
    } finally {
      Facade.setCompleter(Native::complete);
    }
  }
}
