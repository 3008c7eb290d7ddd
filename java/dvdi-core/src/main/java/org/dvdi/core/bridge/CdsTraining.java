package org.dvdi.core.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The training run for dvdi's class-data sharing archive ({@code dvdi.jsa} beside dvdi.jar):
 * the build runs it with {@code -XX:ArchiveClassesAtExit}, and the bridge starts the agent's
 * JVM with that archive, so that the classes the first calls need are mapped, not loaded.
 * It does what the bridge does first (init, ping, prepare, cleanup, recover, metrics) on a
 * temporary state directory; it needs no root and mounts nothing.
 */
public final class CdsTraining {
  private CdsTraining() {}

  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("dvdi-cds-");
    try {
      // native_log as in the agent (without the bridge, the handler writes to stderr).
      Facade.init("{\"native_log\":true,\"settings\":{\"state.dir\":\"" + dir.resolve("state") + "\",\"mount.root\":\""
          + dir.resolve("volumes") + "\",\"providers.loop.pool\":\"" + dir.resolve("pool") + "\"}}");
      String id = "{\"value\":\"cds-training\"}";
      String config = "{\"directory\":\"" + dir + "\",\"command_info\":{\"environment\":{\"variables\":["
          + "{\"name\":\"HOME\",\"value\":\"/\"}]}},\"container_info\":{\"type\":\"MESOS\",\"volumes\":[]}}";
      check(Facade.call("ping", "{}"));
      check(Facade.call("prepare", "{\"container_id\":" + id + ",\"container_config\":" + config + "}"));
      check(Facade.call("cleanup", "{\"container_id\":" + id + "}"));
      check(Facade.call("recover", "{\"states\":[],\"orphans\":[]}"));
      check(Facade.call("metrics", "{}"));
      // An invalid request, for the error path's classes.
      Facade.call("prepare", "{\"container_id\":" + id + ",\"container_config\":{\"command_info\":{\"environment\":"
          + "{\"variables\":[{\"name\":\"DVDI_VOLUME_NAME\",\"value\":\"a/b\"}]}}}}");
    } finally {
      Facade.shutdownForTests();
      try (Stream<Path> s = Files.walk(dir)) {
        s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void check(String envelope) throws IOException {
    if (!envelope.startsWith("{\"ok\":true")) {
      throw new IOException("CDS training call failed: " + envelope);
    }
  }
}
