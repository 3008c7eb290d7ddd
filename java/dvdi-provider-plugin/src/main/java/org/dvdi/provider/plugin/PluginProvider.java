package org.dvdi.provider.plugin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;

/**
 * A Docker volume plugin (REX-Ray and any other) spoken to directly over its socket, as Docker
 * and dvdcli do, without a process per call. One instance serves the plugin whose name is the
 * driver name.
 *
 * <p>The plugin is found with {@link PluginDiscovery} and activated once ({@code /Plugin.Activate}
 * must list {@code VolumeDriver}; {@code /VolumeDriver.Capabilities} gives the scope, "local"
 * when the plugin does not implement it, as Docker assumes). Connecting is retried with
 * exponential backoff (100 ms doubling to 2 s) while the socket is missing or refuses, for at
 * most {@code connect-retry} (30 s, as Docker's plugin client) and never past the call's
 * deadline; then the call fails with PROVIDER_FAILURE naming where it looked. Once a request
 * is sent it is never repeated: a plugin that does not answer in time fails with TIMEOUT.
 *
 * <p><b>A missing volume.</b> The protocol has no error codes, only {@code Err} texts. A Get
 * that fails says "missing" when {@link DriverErrors} recognises the words, else when List
 * (which does not depend on the plugin's wording) does not show the volume. A failed Mount or
 * Remove becomes VOLUME_NOT_FOUND only when that Get then says the volume is missing, so a
 * "not found" about something else (a device, a mount point) is never mistaken for it, and the
 * happy path costs no extra round trip. A failed Unmount is success when the plugin says it is
 * not mounted or the volume is gone (unmount is idempotent). Mount never creates: dvdi's core
 * inspects and creates first (honouring explicit creation), and plugins such as REX-Ray that
 * create on mount see only volumes that exist.
 */
public final class PluginProvider implements VolumeProvider {
  private static final Logger LOG = Logger.getLogger(PluginProvider.class.getName());

  /** Settings ({@code providers.plugin.*}) and their defaults. */
  public static final String SET_SOCKET_DIRS = "socket-dirs";
  public static final String DEFAULT_SOCKET_DIRS = "/run/docker/plugins";
  public static final String SET_SPEC_DIRS = "spec-dirs";
  public static final String DEFAULT_SPEC_DIRS = "/etc/docker/plugins,/usr/lib/docker/plugins";
  public static final String SET_CONNECT_RETRY = "connect-retry";
  public static final Duration DEFAULT_CONNECT_RETRY = Duration.ofSeconds(30);
  public static final Set<String> SETTINGS = Set.of(SET_SOCKET_DIRS, SET_SPEC_DIRS, SET_CONNECT_RETRY);

  /** Provider data key: the Mount ID a Mount used, sent again with its Unmount. */
  public static final String DATA_MOUNT_ID = "mount-id";

  static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(2);

  static final String ACTIVATE = "Plugin.Activate";
  static final String CREATE = "VolumeDriver.Create";
  static final String GET = "VolumeDriver.Get";
  static final String LIST = "VolumeDriver.List";
  static final String MOUNT = "VolumeDriver.Mount";
  static final String UNMOUNT = "VolumeDriver.Unmount";
  static final String PATH = "VolumeDriver.Path";
  static final String REMOVE = "VolumeDriver.Remove";
  static final String CAPABILITIES = "VolumeDriver.Capabilities";

  /** Volume and driver names: the request grammar's, which also keeps them safe in file names and arguments. */
  public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final String driver;
  private final PluginDiscovery discovery;
  private final Duration connectRetry;
  private final ReentrantLock activation = new ReentrantLock();
  private volatile boolean activated;
  /** Set once the plugin was found; from then on validate() no longer insists on its files. */
  private volatile boolean found;

  PluginProvider(String driver, ProviderContext ctx) {
    if (!NAME.matcher(driver).matches()) {
      throw DvdiException.invalid("volume driver '" + driver + "' is not a valid Docker volume plugin name");
    }
    Settings s = ctx.settings();
    s.requireOnly(SETTINGS);
    this.driver = driver;
    this.discovery = new PluginDiscovery(dirs(s, SET_SOCKET_DIRS, DEFAULT_SOCKET_DIRS), dirs(s, SET_SPEC_DIRS, DEFAULT_SPEC_DIRS));
    this.connectRetry = s.getDuration(SET_CONNECT_RETRY, DEFAULT_CONNECT_RETRY);
  }

  private static List<Path> dirs(Settings s, String key, String dflt) {
    String v = s.getString(key, dflt);
    List<Path> out = new ArrayList<>();
    for (String d : v.split(",")) {
      if (!d.isBlank()) {
        Path p = Path.of(d.trim());
        if (!p.isAbsolute()) {
          throw s.bad(key, v, "must be a comma-separated list of absolute directories");
        }
        out.add(p.normalize());
      }
    }
    return out;
  }

  @Override
  public String driver() {
    return driver;
  }

  /** A plugin mounts where it likes: dvdi asks the kernel about its mount by the filesystem it is on. */
  @Override
  public Capabilities capabilities() {
    return new Capabilities(false);
  }

  /**
   * Checks the name's grammar and that the plugin exists at all, so that a task naming an
   * unknown driver fails before anything is done. Options go to the plugin as they are: each
   * plugin has its own keys, and the request grammar has already checked their characters.
   * Once the plugin has been found, its files are not required again here: a plugin restarting
   * (its socket briefly gone) must not fail tasks whose volumes are already mounted; calls
   * wait for it with the connect retry instead.
   */
  @Override
  public void validate(String name, VolumeOptions options) {
    if (!NAME.matcher(name).matches()) {
      throw DvdiException.invalid("volume name '" + name + "' is not valid for Docker volume plugin '" + driver
          + "': 1-128 letters, digits, '_', '.', '-', starting with a letter or digit");
    }
    if (!found) {
      if (discovery.find(driver).isEmpty()) {
        throw DvdiException.invalid("unknown volume driver '" + driver + "': no Docker volume plugin socket or spec found in "
            + discovery.searched(driver));
      }
      found = true;
    }
  }

  @Override
  public Optional<VolumeInfo> inspect(String name, CallContext ctx) {
    try {
      JsonNode v = call(GET, Map.of("Name", name), name, ctx).path("Volume");
      return v.isObject() ? Optional.of(info(v, name)) : Optional.empty(); // no volume, no error: "no such volume"
    } catch (Refusal e) {
      if (DriverErrors.classify(e.reason) == DriverErrors.Kind.VOLUME_MISSING || !listedOrUnsure(name, e, ctx)) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** True when List shows the volume, or when List fails too (then we cannot tell). */
  private boolean listedOrUnsure(String name, Refusal cause, CallContext ctx) {
    try {
      return list(ctx).stream().anyMatch(v -> v.name().equals(name));
    } catch (DvdiException e) {
      cause.addSuppressed(e);
      return true;
    }
  }

  @Override
  public List<VolumeInfo> list(CallContext ctx) {
    List<VolumeInfo> out = new ArrayList<>();
    for (JsonNode v : call(LIST, Map.of(), "", ctx).path("Volumes")) {
      if (v.isObject() && !text(v, "Name").isEmpty()) {
        out.add(info(v, text(v, "Name")));
      }
    }
    return out;
  }

  @Override
  public VolumeInfo create(String name, VolumeOptions options, CallContext ctx) {
    validate(name, options);
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("Name", name);
    body.put("Opts", options.asMap());
    try {
      call(CREATE, body, name, ctx);
    } catch (Refusal e) {
      Optional<VolumeInfo> existing = inspectAfter(name, e, ctx);
      if (existing.isPresent()) {
        LOG.fine(() -> "plugin '" + driver + "' refused to create existing volume '" + name + "' (" + e.reason + "): using it");
        return existing.get();
      }
      throw e;
    }
    LOG.info("created volume " + driver + "/" + name + " through Docker volume plugin '" + driver + "'");
    VolumeInfo created = new VolumeInfo(driver, name, driver, -1, "created", "", Map.of());
    try {
      return inspect(name, ctx).orElse(created); // the plugin's view if it has one yet
    } catch (DvdiException e) {
      LOG.fine(() -> "volume " + driver + "/" + name + " created, but Get failed: " + e.getMessage());
      return created;
    }
  }

  @Override
  public MountedVolume mount(String name, VolumeOptions options, Attachment attachment, CallContext ctx) {
    Map<String, Object> body = new LinkedHashMap<>();
    String mountId = ctx.mountId() == null ? "" : ctx.mountId();
    body.put("Name", name);
    body.put("ID", mountId);
    String mountpoint;
    try {
      mountpoint = text(call(MOUNT, body, name, ctx), "Mountpoint");
      if (mountpoint.isEmpty()) {
        // Some plugins answer Mount with an empty Mountpoint and tell it on Path.
        mountpoint = text(call(PATH, Map.of("Name", name), name, ctx), "Mountpoint");
      }
    } catch (Refusal e) {
      throw classified(name, e, ctx);
    }
    if (!mountpoint.startsWith("/")) {
      throw DvdiException.provider("Docker volume plugin '" + driver + "' mounted volume '" + name
          + "' but answered no absolute Mountpoint ('" + PluginHttp.printable(mountpoint) + "')");
    }
    return new MountedVolume(Path.of(mountpoint).normalize().toString(), "", Map.of(DATA_MOUNT_ID, mountId));
  }

  /**
   * Unmounts with the Mount ID the Mount used (kept in the volume's provider data), so that a
   * renamed host ({@code instance.id} changed since) still releases its mounts; state written
   * before the ID was recorded falls back to the current one.
   */
  @Override
  public void unmount(VolumeHandle volume, CallContext ctx) {
    String recorded = volume.providerData().get(DATA_MOUNT_ID);
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("Name", volume.name());
    body.put("ID", recorded != null ? recorded : ctx.mountId() == null ? "" : ctx.mountId());
    try {
      call(UNMOUNT, body, volume.name(), ctx);
    } catch (Refusal e) {
      if (DriverErrors.classify(e.reason) == DriverErrors.Kind.NOT_MOUNTED || inspectAfter(volume.name(), e, ctx).isEmpty()) {
        LOG.fine(() -> "unmount of " + driver + "/" + volume.name() + ": nothing to unmount (" + e.reason + ")");
        return;
      }
      throw e;
    }
  }

  @Override
  public void remove(String name, CallContext ctx) {
    try {
      call(REMOVE, Map.of("Name", name), name, ctx);
    } catch (Refusal e) {
      throw classified(name, e, ctx);
    }
    LOG.info("removed volume " + driver + "/" + name + " through Docker volume plugin '" + driver + "'");
  }

  /** A refused Mount or Remove: VOLUME_NOT_FOUND if Get confirms the volume is gone, VOLUME_BUSY if it says so. */
  private DvdiException classified(String name, Refusal e, CallContext ctx) {
    if (inspectAfter(name, e, ctx).isEmpty()) {
      return DriverErrors.recode(e, ErrorCode.VOLUME_NOT_FOUND);
    }
    return DriverErrors.classify(e.reason) == DriverErrors.Kind.BUSY ? DriverErrors.recode(e, ErrorCode.VOLUME_BUSY) : e;
  }

  /**
   * Inspects after a refusal; when that fails too, the failure is added to {@code cause} as
   * suppressed and the answer is "present" (we cannot tell, so nothing is concluded from it).
   */
  private Optional<VolumeInfo> inspectAfter(String name, Refusal cause, CallContext ctx) {
    try {
      return inspect(name, ctx);
    } catch (DvdiException e) {
      cause.addSuppressed(e);
      return Optional.of(new VolumeInfo(driver, name, "", -1, "unknown", "", Map.of()));
    }
  }

  private VolumeInfo info(JsonNode v, String name) {
    Map<String, String> details = new TreeMap<>();
    String mp = text(v, "Mountpoint");
    if (!mp.isEmpty()) {
      details.put("mountpoint", mp);
    }
    if (!text(v, "CreatedAt").isEmpty()) {
      details.put("created", text(v, "CreatedAt"));
    }
    JsonNode st = v.path("Status");
    for (Iterator<Map.Entry<String, JsonNode>> it = st.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      details.put("status." + e.getKey(), e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString());
    }
    String status = text(st, "status").isEmpty() ? text(st, "State") : text(st, "status");
    return new VolumeInfo(driver, text(v, "Name").isEmpty() ? name : text(v, "Name"), driver, -1, status, "", details);
  }

  // ------------------------------------------------------------------ the protocol

  /** Calls {@code method} after activation; the plugin's refusal comes out as {@link Refusal}. */
  private JsonNode call(String method, Map<String, ?> body, String volume, CallContext ctx) {
    activate(ctx);
    return exchange(method, body, volume, ctx);
  }

  /** {@code /Plugin.Activate} and {@code /VolumeDriver.Capabilities}, once per provider. */
  private void activate(CallContext ctx) {
    if (activated) {
      return;
    }
    try {
      if (!activation.tryLock(Math.max(0, ctx.remaining().toMillis()), TimeUnit.MILLISECONDS)) {
        throw DvdiException.timeout(ctx.operation() + ": Docker volume plugin '" + driver
            + "' is still being activated by another call; deadline passed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw DvdiException.timeout(ctx.operation() + ": interrupted while waiting for the activation of plugin '" + driver + "'");
    }
    try {
      if (activated) {
        return;
      }
      JsonNode impl = exchange(ACTIVATE, Map.of(), "", ctx).path("Implements");
      boolean volumeDriver = false;
      for (JsonNode i : impl) {
        volumeDriver |= "VolumeDriver".equals(i.asText());
      }
      if (!volumeDriver) {
        throw DvdiException.provider("Docker plugin '" + driver + "' does not implement VolumeDriver (it implements "
            + (impl.isMissingNode() ? "nothing" : impl.toString()) + ")");
      }
      // Its scope (Docker's "local" or "global") changes nothing dvdi does: asked, as Docker
      // does, for the operator's log only.
      String scope;
      try {
        String s = text(exchange(CAPABILITIES, Map.of(), "", ctx).path("Capabilities"), "Scope");
        scope = "global".equalsIgnoreCase(s) ? "global" : "local";
      } catch (Refusal e) {
        LOG.fine(() -> "plugin '" + driver + "' has no Capabilities (" + e.reason + "): scope local");
        scope = "local";
      }
      activated = true;
      LOG.info("activated Docker volume plugin '" + driver + "' (scope " + scope + ")");
    } finally {
      activation.unlock();
    }
  }

  /** One request, with connect retries; decodes the answer. */
  private JsonNode exchange(String method, Map<String, ?> body, String volume, CallContext ctx) {
    byte[] bytes;
    try {
      bytes = JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw DvdiException.internal("cannot encode " + method + " request", e);
    }
    long start = System.nanoTime();
    long deadline = start + Math.max(0, ctx.remaining().toNanos());
    boolean capped = connectRetry.toNanos() < deadline - start;
    long retryUntil = capped ? start + connectRetry.toNanos() : deadline;
    long backoff = FIRST_BACKOFF_NANOS;
    for (int attempt = 1; ; attempt++) {
      Optional<PluginDiscovery.Address> addr = discovery.find(driver);
      String problem;
      if (addr.isPresent()) {
        String what = what(method, volume) + " (" + addr.get() + ")";
        try {
          PluginHttp.Response r = PluginHttp.post(addr.get(), "/" + method, bytes, deadline);
          found = true;
          return decode(what, r);
        } catch (PluginHttp.ConnectFailed e) {
          if (e.getCause() instanceof ClosedByInterruptException) {
            throw interrupted(what);
          }
          problem = "cannot connect to " + addr.get() + ": " + e.getMessage();
        } catch (PluginHttp.DeadlinePassed e) {
          throw DvdiException.timeout(what + ": no answer within " + millis(deadline - start) + " ms (deadline passed while "
              + e.getMessage() + ")");
        } catch (InterruptedIOException | ClosedByInterruptException e) {
          throw interrupted(what);
        } catch (IOException e) {
          throw DvdiException.provider(what + " failed: " + e.getMessage(), e);
        }
      } else {
        problem = "no socket or spec found (looked for " + discovery.searched(driver) + ")";
      }
      long now = System.nanoTime();
      if (now - retryUntil >= 0) {
        throw DvdiException.provider("Docker volume plugin '" + driver + "' is unreachable for " + what(method, volume) + ": "
            + problem + "; gave up after " + attempt + " attempts in " + millis(now - start) + " ms ("
            + (capped ? "providers.plugin." + SET_CONNECT_RETRY + " is " + connectRetry.toMillis() + " ms" : "the call's deadline")
            + ")");
      }
      if (attempt == 1) {
        LOG.info("Docker volume plugin '" + driver + "': " + problem + "; retrying for up to " + millis(retryUntil - now) + " ms");
      }
      try {
        TimeUnit.NANOSECONDS.sleep(Math.min(backoff, retryUntil - now));
      } catch (InterruptedException e) {
        throw interrupted(what(method, volume));
      }
      backoff = Math.min(backoff * 2, MAX_BACKOFF_NANOS);
    }
  }

  /**
   * The answer as JSON, or the plugin's error: {@code Err} (empty means success), REX-Ray's
   * HTTP 500 {@code {"Error": ...}}, or any other non-200 status with its body. An empty 200
   * body counts as {@code {}}; anything else that is not a JSON object is PROVIDER_FAILURE.
   */
  private static JsonNode decode(String what, PluginHttp.Response r) {
    String text = r.text();
    JsonNode json = null;
    if (!text.isBlank()) {
      try {
        json = JSON.readTree(r.body());
      } catch (IOException e) {
        if (r.status() == 200) {
          throw DvdiException.provider(what + ": the plugin answered malformed JSON ("
              + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()) + "): "
              + PluginHttp.printable(text));
        }
      }
    }
    String err = json == null || !json.isObject() ? "" : text(json, "Err").isEmpty() ? text(json, "Error") : text(json, "Err");
    if (r.status() != 200) {
      String reason = err.isEmpty() ? PluginHttp.printable(text.strip()) : err;
      throw new Refusal(what + " failed: HTTP " + r.status() + (r.status() == 404 ? " (not implemented)" : "")
          + (reason.isEmpty() ? "" : ": " + DriverErrors.shorten(reason)), reason);
    }
    if (json == null) {
      return JSON.createObjectNode();
    }
    if (!json.isObject()) {
      throw DvdiException.provider(what + ": the plugin answered JSON that is not an object: " + PluginHttp.printable(text));
    }
    if (!err.isEmpty()) {
      throw new Refusal(what + " failed: " + DriverErrors.shorten(err), err);
    }
    return json;
  }

  private String what(String method, String volume) {
    return "Docker volume plugin '" + driver + "' " + method + (volume.isEmpty() ? "" : " of volume '" + volume + "'");
  }

  private static DvdiException interrupted(String what) {
    Thread.currentThread().interrupt();
    return DvdiException.timeout(what + ": interrupted (the call was abandoned)");
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  /** A field as text: "" when absent or null; non-text values as their JSON. */
  private static String text(JsonNode o, String field) {
    JsonNode n = o.get(field);
    return n == null || n.isNull() ? "" : n.isTextual() ? n.asText() : n.toString();
  }

  /** The plugin answered, and its answer is an error: {@link #reason} is the plugin's own text. */
  static final class Refusal extends DvdiException {
    private static final long serialVersionUID = 1L;
    final transient String reason;

    Refusal(String message, String reason) {
      super(ErrorCode.PROVIDER_FAILURE, message);
      this.reason = reason;
    }
  }

  @Override
  public String toString() {
    return "PluginProvider[" + driver + "]";
  }

}
