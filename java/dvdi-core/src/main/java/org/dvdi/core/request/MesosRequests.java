package org.dvdi.core.request;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.core.json.Json;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeOptions;

/**
 * Turns what the Mesos adapter sends (the ContainerID and ContainerConfig protobufs as JSON,
 * field names as in mesos.proto) into a {@link PrepareRequest}: DVDI variables from the
 * container's command environment (and, for a top-level container, its executor's), plus
 * {@code DOCKER_VOLUME} volumes of {@code container_info} as Mesos's docker/volume isolator
 * reads them.
 */
public final class MesosRequests {
  /** {@code ContainerConfig.container_class} of a debug container (mesos.proto's ContainerClass). */
  public static final String DEBUG_CLASS = "DEBUG";

  private MesosRequests() {}

  /**
   * Joins a ContainerID and its parents as Mesos prints them: "parent.child". The one builder
   * of dvdi's container ids: prepare, cleanup and recover all name a container through it, so
   * that a container recovered after a restart has the id its prepare recorded.
   */
  public static String containerId(Json.Node id, String field) {
    if (id == null || !id.has("value")) {
      throw DvdiException.invalid(field + " is missing its 'value'");
    }
    String own = Grammar.containerId(id.path("value").asText(""), field + ".value");
    Json.Node parent = id.path("parent");
    return parent.isNull() ? own : containerId(parent, field + ".parent") + Grammar.NESTED_ID_SEPARATOR + own;
  }

  public static boolean isNested(Json.Node id) {
    return id != null && id.has("parent");
  }

  /**
   * Builds the request.
   *
   * @param containerIdJson the ContainerID
   * @param config the ContainerConfig
   * @param defaultDriver the driver for DVDI volumes without {@code DVDI_VOLUME_DRIVER}
   */
  public static PrepareRequest parse(Json.Node containerIdJson, Json.Node config, String defaultDriver) {
    String cid = containerId(containerIdJson, "container_id");
    String dir = config.path("directory").asText("");
    String rootfs = config.path("rootfs").asText("");
    String user = config.path("user").asText("");
    Path sandbox = dir.isEmpty() ? null : Path.of(dir);
    Path root = rootfs.isEmpty() ? null : Path.of(rootfs);
    String who = user.isEmpty() ? null : user;
    if (DEBUG_CLASS.equals(config.path("container_class").asText(""))) {
      // A debug container (`mesos task exec`, `dcos task exec`) shares its parent's mount
      // namespace and sees the parent's volumes there; as Mesos's docker/volume isolator, it
      // gets none of its own, whatever its environment says.
      return new PrepareRequest(cid, sandbox, root, who, List.of());
    }
    Map<String, String> env = new LinkedHashMap<>();
    if (!isNested(containerIdJson)) {
      env.putAll(environment(config.path("executor_info").path("command").path("environment")));
    }
    env.putAll(environment(config.path("command_info").path("environment")));
    List<VolumeRequest> volumes = new ArrayList<>(EnvRequests.parse(env, defaultDriver));
    Json.Node vols = config.path("container_info").path("volumes");
    for (int i = 0; i < vols.size(); i++) {
      Json.Node v = vols.get(i);
      if (!"DOCKER_VOLUME".equals(v.path("source").path("type").asText(""))) {
        continue; // other isolators' volumes
      }
      volumes.add(dockerVolume(v, "container_info.volumes[" + i + "]"));
    }
    checkDistinct(volumes);
    return new PrepareRequest(cid, sandbox, root, who, volumes);
  }

  private static VolumeRequest dockerVolume(Json.Node v, String field) {
    Json.Node dv = v.path("source").path("docker_volume");
    String driverText = dv.path("driver").asText("");
    if (driverText.isEmpty()) {
      throw DvdiException.invalid(field + ".source.docker_volume.driver is missing: a DOCKER_VOLUME needs a driver");
    }
    String driver = Grammar.driver(driverText, field + ".source.docker_volume.driver");
    String name = Grammar.name(dv.path("name").asText(null), field + ".source.docker_volume.name");
    Map<String, String> opts = new LinkedHashMap<>();
    Json.Node params = dv.path("driver_options").path("parameter");
    for (int i = 0; i < params.size(); i++) {
      Grammar.option(opts, params.get(i).path("key").asText(""), params.get(i).path("value").asText(""),
          field + ".source.docker_volume.driver_options");
    }
    String cp = v.path("container_path").asText("");
    if (cp.isEmpty()) {
      throw DvdiException.invalid(field + ".container_path is missing: a DOCKER_VOLUME needs a container path");
    }
    String path = Grammar.containerPath(cp, field + ".container_path");
    String mode = v.path("mode").asText("RW");
    if (!mode.equals("RW") && !mode.equals("RO")) {
      throw DvdiException.invalid(field + ".mode is '" + Grammar.printable(mode) + "': must be RW or RO");
    }
    return new VolumeRequest(driver, name, new VolumeOptions(opts, field + ".source.docker_volume.driver_options"),
        path, mode.equals("RO"), false, field, null, field + ".container_path");
  }

  /** Variables of an Environment message; SECRET variables are skipped (never read, never logged). */
  static Map<String, String> environment(Json.Node envJson) {
    Map<String, String> env = new HashMap<>();
    Json.Node vars = envJson.path("variables");
    for (int i = 0; i < vars.size(); i++) {
      Json.Node var = vars.get(i);
      String type = var.path("type").asText("VALUE");
      if (!type.equals("VALUE") && !type.equals("UNKNOWN")) {
        continue;
      }
      env.put(var.path("name").asText(""), var.path("value").asText(""));
    }
    return env;
  }

  /**
   * The same volume twice is an error. (Two volumes at one place are compared where they
   * resolve, by the launch planner.)
   */
  public static void checkDistinct(List<VolumeRequest> volumes) {
    Map<Object, String> seen = new HashMap<>();
    for (VolumeRequest v : volumes) {
      String prev = seen.putIfAbsent(v.key(), v.source());
      if (prev != null) {
        throw DvdiException.invalid(v.source() + " asks for volume " + v.key() + " again (already asked for by "
            + prev + "): a container may use a volume once");
      }
    }
  }
}
