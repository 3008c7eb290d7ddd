package org.dvdi.core.bridge;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.Logger;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.Results;
import org.dvdi.core.engine.VolumeManager;
import org.dvdi.core.json.Json;
import org.dvdi.core.request.MesosRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.DvdiException;

/**
 * The JNI facade: the few static entry points the native bridge calls. What crosses is JSON
 * text: requests carry Mesos protobufs as JSON (field names as in mesos.proto), results are
 * JSON, errors are an {@link org.dvdi.spi.ErrorCode} name and a message.
 *
 * <ul>
 *   <li>{@link #init}: once, after the JVM starts; builds dvdi from the config.</li>
 *   <li>{@link #submit}: starts {@code prepare}, {@code cleanup}, {@code recover},
 *       {@code metrics} or {@code ping}; returns at once and completes through the native
 *       {@code complete(tag, ...)} later, from a Java thread. It never throws.</li>
 *   <li>{@link #call}: the same, synchronously, returning an envelope
 *       {@code {"ok","code","message","result"}} (tests, tools).</li>
 * </ul>
 */
public final class Facade {
  private static final Logger LOG = Logger.getLogger(Facade.class.getName());
  private static final byte[] EMPTY = new byte[0];

  private static volatile Dvdi dvdi;
  private static volatile String initArgs;
  private static volatile Completer completer = Native::complete;

  private Facade() {}

  /**
   * Builds dvdi. {@code argsJson}: {@code {"config_file": path or "", "settings": {k: v},
   * "native_log": bool}}; settings (module parameters) override the file. Returns
   * {@code {"instance_id", "state_dir", "mount_root", "providers": [...], "repairs": [...]}}.
   * A second call with the same arguments returns the same; with others it fails.
   */
  public static synchronized byte[] init(byte[] argsUtf8) throws Exception {
    return init(new String(argsUtf8, UTF_8)).getBytes(UTF_8);
  }

  /** {@link #init(byte[])} for Java callers. */
  public static synchronized String init(String argsJson) throws Exception {
    if (dvdi != null) {
      if (!argsJson.equals(initArgs)) {
        throw DvdiException.config("dvdi is already running in this process with other parameters");
      }
      return describe();
    }
    Json.Node args = Json.parse(argsJson, "the init arguments");
    if (args.path("native_log").asBoolean(false)) {
      Logger root = LogManager.getLogManager().getLogger("");
      for (java.util.logging.Handler h : root.getHandlers()) {
        root.removeHandler(h);
      }
      root.addHandler(new NativeLogHandler());
      Logger.getLogger("org.dvdi").setLevel(Level.INFO);
    }
    Map<String, String> settings = args.path("settings").fieldsAsText();
    String file = args.path("config_file").asText("");
    DvdiConfig config = DvdiConfig.load(file.isEmpty() ? null : Path.of(file), settings);
    dvdi = Dvdi.open(config, Dvdi.WRITER_AGENT);
    initArgs = argsJson;
    dvdi.manager().executor().execute(dvdi.providers()::makeConfigured);
    LOG.info("dvdi ready: instance " + config.instanceId() + ", state " + config.stateDir() + ", mounts under "
        + config.mountRoot() + ", providers " + dvdi.providers().types());
    return describe();
  }

  private static String describe() {
    Map<String, Object> o = Json.object();
    o.put("instance_id", dvdi.config().instanceId());
    o.put("state_dir", dvdi.config().stateDir().toString());
    o.put("mount_root", dvdi.config().mountRoot().toString());
    o.put("providers", dvdi.providers().types());
    o.put("repairs", dvdi.state().repairs());
    // the native recover's deadline is this plus a margin (module parameter recover_timeout)
    o.put("recover_bound_ms", dvdi.manager().recoverBound().toMillis());
    return Json.write(o);
  }

  /** For tests: deliver completions somewhere other than the native bridge. */
  public static void setCompleter(Completer c) {
    completer = c;
  }

  /** For tests: forget the running dvdi (closing it). */
  public static synchronized void shutdownForTests() {
    if (dvdi != null) {
      dvdi.close();
      dvdi = null;
      initArgs = null;
    }
  }

  /**
   * Starts {@code method} with a UTF-8 JSON request; completes {@code tag} later (for
   * {@code ping}, before returning, on the calling thread). Never throws.
   */
  public static void submit(long tag, String method, byte[] requestUtf8) {
    CompletableFuture<String> f;
    try {
      f = start(method, requestUtf8 == null ? "" : new String(requestUtf8, UTF_8));
    } catch (Throwable t) {
      f = CompletableFuture.failedFuture(t);
    }
    f.whenComplete((result, err) -> deliver(tag, result, err));
  }

  /** Runs {@code method} and waits; returns the envelope JSON. */
  public static String call(String method, String requestJson) {
    try {
      String r = start(method, requestJson).join();
      return "{\"ok\":true,\"result\":" + r + "}";
    } catch (Throwable t) {
      DvdiException d = DvdiException.wrap(t, method);
      Map<String, Object> env = Json.object();
      env.put("ok", false);
      env.put("code", d.getCode().name());
      env.put("message", d.getMessage());
      return Json.write(env);
    }
  }

  private static void deliver(long tag, String result, Throwable err) {
    try {
      if (err == null) {
        completer.complete(tag, true, "", EMPTY, result.getBytes(UTF_8));
      } else {
        DvdiException d = DvdiException.wrap(err, "dvdi");
        if (d.getCode() == org.dvdi.spi.ErrorCode.INTERNAL) {
          LOG.log(Level.SEVERE, "internal error", d);
        }
        completer.complete(tag, false, d.getCode().name(), String.valueOf(d.getMessage()).getBytes(UTF_8), EMPTY);
      }
    } catch (Throwable t) {
      LOG.log(Level.SEVERE, "could not deliver the result of bridge call " + tag, t);
    }
  }

  private static Dvdi running() {
    Dvdi d = dvdi;
    if (d == null) {
      throw DvdiException.internal("dvdi is not initialised (Facade.init was not called)", null);
    }
    return d;
  }

  private static CompletableFuture<String> start(String method, String requestJson) throws Exception {
    if (method.equals("ping")) {
      return CompletableFuture.completedFuture("{}");
    }
    Dvdi d = running();
    VolumeManager m = d.manager();
    Json.Node req = Json.parse(requestJson == null || requestJson.isEmpty() ? "{}" : requestJson,
        "the " + method + " request");
    switch (method) {
      case "prepare":
        return CompletableFuture.supplyAsync(() -> MesosRequests.parse(req.path("container_id"),
                req.path("container_config"), d.config().defaultDriver()), m.executor())
            .thenCompose(m::prepare).thenApply(Facade::prepareJson);
      case "cleanup": {
        String cid = MesosRequests.containerId(req.path("container_id"), "container_id");
        return m.cleanup(cid).thenApply(Facade::cleanupJson);
      }
      case "recover": {
        Set<String> live = new HashSet<>();
        for (Json.Node s : req.path("states")) {
          live.add(MesosRequests.containerId(s.path("container_id"), "states[].container_id"));
        }
        Set<String> orphans = new HashSet<>();
        for (Json.Node o : req.path("orphans")) {
          orphans.add(MesosRequests.containerId(o, "orphans[]"));
        }
        return m.recover(live, orphans).thenApply(Facade::recoverJson);
      }
      case "metrics": {
        Map<String, Object> o = Json.object();
        o.putAll(m.metrics().snapshot());
        org.dvdi.core.state.StateView view = d.state().view();
        o.put("volumes_mounted", view.volumes().size());
        o.put("containers", view.containers().size());
        o.put("state_commits", d.state().commits());
        return CompletableFuture.completedFuture(Json.write(o));
      }
      default:
        throw DvdiException.invalid("unknown bridge method '" + method + "'");
    }
  }

  /** The result of prepare: ContainerLaunchInfo as JSON (absent when there are no volumes), and the volumes. */
  static String prepareJson(Results.PrepareResult r) {
    Map<String, Object> o = Json.object();
    if (r.hasVolumes()) {
      Map<String, Object> li = Json.object();
      if (!r.binds().isEmpty()) {
        li.put("clone_namespaces", List.of(VolumeManager.CLONE_NEWNS));
        List<Object> mounts = new ArrayList<>();
        for (Results.Bind b : r.binds()) {
          Map<String, Object> mt = Json.object();
          mt.put("source", b.source());
          mt.put("target", b.target());
          mt.put("flags", MountFlags.bind(b.readOnly()));
          mounts.add(mt);
        }
        li.put("mounts", mounts);
      }
      if (!r.environment().isEmpty()) {
        List<Object> vars = new ArrayList<>();
        r.environment().forEach((k, v) -> {
          Map<String, Object> var = Json.object();
          var.put("name", k);
          var.put("type", "VALUE");
          var.put("value", v);
          vars.add(var);
        });
        li.put("environment", Map.of("variables", vars));
      }
      o.put("launch_info", li);
    }
    List<Object> vols = new ArrayList<>();
    for (Results.PreparedVolume v : r.volumes()) {
      Map<String, Object> x = Json.object();
      x.put("driver", v.key().driver());
      x.put("name", v.key().name());
      x.put("host_path", v.hostPath());
      x.put("target", v.target());
      x.put("read_only", v.readOnly());
      x.put("fast_path", v.fastPath());
      vols.add(x);
    }
    o.put("volumes", vols);
    return Json.write(o);
  }

  static String cleanupJson(Results.CleanupResult r) {
    Map<String, Object> o = Json.object();
    o.put("known", r.known());
    o.put("released", names(r.released()));
    o.put("failures", r.failures());
    return Json.write(o);
  }

  static String recoverJson(Results.RecoverResult r) {
    Map<String, Object> o = Json.object();
    o.put("kept_containers", r.keptContainers());
    o.put("released_containers", r.releasedContainers());
    o.put("kept_volumes", names(r.keptVolumes()));
    o.put("released_volumes", names(r.releasedVolumes()));
    o.put("adopted_volumes", names(r.adoptedVolumes()));
    o.put("problems", r.problems());
    return Json.write(o);
  }

  private static List<String> names(List<VolumeKey> keys) {
    List<String> out = new ArrayList<>();
    keys.forEach(k -> out.add(k.toString()));
    return out;
  }
}
