package org.dvdi.provider.plugin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A Docker volume plugin written from the protocol, for tests: HTTP/1.1 on a real unix socket
 * (or TCP on 127.0.0.1), volumes kept as directories (Mount answers the directory), mounts
 * counted per ID. It checks every request against the protocol (POST, the Accept and
 * Content-Type headers, Content-Length, the exact JSON keys of each call) and records what it
 * finds wrong in {@link #violations}, answering 400. Faults are switched with its public fields.
 */
final class FakePlugin implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String ACCEPT = "application/vnd.docker.plugins.v1.2+json";
  private static final Map<String, Set<String>> KEYS = Map.of(
      "/Plugin.Activate", Set.of(),
      "/VolumeDriver.Capabilities", Set.of(),
      "/VolumeDriver.List", Set.of(),
      "/VolumeDriver.Create", Set.of("Name", "Opts"),
      "/VolumeDriver.Get", Set.of("Name"),
      "/VolumeDriver.Path", Set.of("Name"),
      "/VolumeDriver.Remove", Set.of("Name"),
      "/VolumeDriver.Mount", Set.of("Name", "ID"),
      "/VolumeDriver.Unmount", Set.of("Name", "ID"));

  /** One request as received. */
  record Request(String path, Map<String, String> headers, String body) {}

  // Faults and behaviours: set them from the test.
  /** Read the request, never answer (the connection stays open). */
  volatile boolean silent;
  /** Answer 200 with a body that is not JSON. */
  volatile boolean garbage;
  /** Answer every call to this path (e.g. "/VolumeDriver.Mount") with the error {@link #errText}. */
  volatile String errFor;
  volatile String errText = "backend exploded";
  /** Errors as REX-Ray sends them: HTTP 500 {"Error": ...} instead of 200 {"Err": ...}. */
  volatile boolean rexrayErrors;
  /** Say "missing" in words no pattern knows, so that the client has to use List. */
  volatile boolean oddWording;
  /** Wait this long before answering. */
  volatile long delayMillis;
  /** Answer with Transfer-Encoding: chunked. */
  volatile boolean chunked;
  /** Answer without Content-Length: the body ends when the connection closes. */
  volatile boolean noLength;
  /** Read the request, then close the connection without answering (a crashing plugin). */
  volatile boolean hangup;
  /** Unmount of a volume not mounted under that ID is an error ("not mounted"). */
  volatile boolean strictUnmount;
  /** Mount answers an empty Mountpoint (the client must ask Path). */
  volatile boolean emptyMountpoint;
  volatile List<String> implementsList = List.of("VolumeDriver");
  /** Capabilities scope; null: Capabilities answers 404, as a plugin that does not implement it. */
  volatile String scope = "global";

  final List<String> violations = new CopyOnWriteArrayList<>();
  final List<Request> requests = new CopyOnWriteArrayList<>();
  final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
  final AtomicInteger inFlight = new AtomicInteger();
  final AtomicInteger maxInFlight = new AtomicInteger();

  private final Path volumes;
  private final Map<String, Set<String>> mounts = new ConcurrentHashMap<>();
  private final ServerSocketChannel server;
  private final Path socket;
  private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "fake-plugin");
    t.setDaemon(true);
    return t;
  });
  private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
  private final CountDownLatch closed = new CountDownLatch(1);

  private FakePlugin(ServerSocketChannel server, Path socket, Path volumes) throws IOException {
    this.server = server;
    this.socket = socket;
    this.volumes = volumes;
    Files.createDirectories(volumes);
    pool.execute(this::acceptLoop);
  }

  /** A plugin listening on the unix socket {@code socket}, keeping volumes under {@code volumes}. */
  static FakePlugin unix(Path socket, Path volumes) throws IOException {
    Files.createDirectories(socket.getParent());
    Files.deleteIfExists(socket);
    ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    s.bind(UnixDomainSocketAddress.of(socket));
    return new FakePlugin(s, socket, volumes);
  }

  /** A plugin listening on 127.0.0.1 (see {@link #port()}). */
  static FakePlugin tcp(Path volumes) throws IOException {
    ServerSocketChannel s = ServerSocketChannel.open();
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    return new FakePlugin(s, null, volumes);
  }

  int port() throws IOException {
    return ((InetSocketAddress) server.getLocalAddress()).getPort();
  }

  int calls(String path) {
    AtomicInteger n = calls.get(path);
    return n == null ? 0 : n.get();
  }

  List<Request> requests(String path) {
    return requests.stream().filter(r -> r.path().equals(path)).toList();
  }

  /** The mount IDs under which {@code name} is mounted now (Mount adds one, Unmount removes it). */
  Set<String> mountIds(String name) {
    return Set.copyOf(mounts.getOrDefault(name, Set.of()));
  }

  Path volumeDir(String name) {
    return volumes.resolve(name);
  }

  private void acceptLoop() {
    while (server.isOpen()) {
      try {
        SocketChannel c = server.accept();
        open.add(c);
        pool.execute(() -> serve(c));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void serve(SocketChannel c) {
    int now = inFlight.incrementAndGet();
    maxInFlight.accumulateAndGet(now, Math::max);
    try (c; InputStream in = new BufferedInputStream(Channels.newInputStream(c));
        OutputStream out = new BufferedOutputStream(Channels.newOutputStream(c))) {
      Request req = readRequest(in);
      if (req == null) {
        return;
      }
      requests.add(req);
      calls.computeIfAbsent(req.path(), k -> new AtomicInteger()).incrementAndGet();
      if (silent) {
        closed.await();
        return;
      }
      if (hangup) {
        return;
      }
      if (delayMillis > 0) {
        Thread.sleep(delayMillis);
      }
      Answer a = answer(req);
      write(out, a.status, a.body);
    } catch (IOException e) {
      // the client went away
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      inFlight.decrementAndGet();
      open.remove(c);
    }
  }

  private record Answer(int status, String body) {}

  private Request readRequest(InputStream in) throws IOException {
    String requestLine = line(in);
    if (requestLine == null) {
      return null;
    }
    Map<String, String> headers = new LinkedHashMap<>();
    for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
      int colon = h.indexOf(':');
      headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
    }
    String[] parts = requestLine.split(" ");
    String path = parts.length == 3 ? parts[1] : "?";
    if (parts.length != 3 || !parts[0].equals("POST") || !parts[2].equals("HTTP/1.1")) {
      violations.add("request line '" + requestLine + "' is not 'POST <path> HTTP/1.1'");
    }
    if (!ACCEPT.equals(headers.get("accept"))) {
      violations.add(path + ": Accept is '" + headers.get("accept") + "'");
    }
    if (!"application/json".equals(headers.get("content-type"))) {
      violations.add(path + ": Content-Type is '" + headers.get("content-type") + "'");
    }
    if (headers.get("host") == null) {
      violations.add(path + ": no Host header");
    }
    int length = headers.containsKey("content-length") ? Integer.parseInt(headers.get("content-length")) : -1;
    if (length < 0) {
      violations.add(path + ": no Content-Length");
      length = 0;
    }
    byte[] body = in.readNBytes(length);
    if (body.length != length) {
      violations.add(path + ": body shorter than Content-Length");
    }
    return new Request(path, headers, new String(body, StandardCharsets.UTF_8));
  }

  private static String line(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        return b.size() == 0 ? null : b.toString(StandardCharsets.US_ASCII);
      }
      b.write(c);
    }
    String s = b.toString(StandardCharsets.US_ASCII);
    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
  }

  private Answer answer(Request req) {
    Set<String> keys = KEYS.get(req.path());
    if (keys == null) {
      return new Answer(404, "404 page not found\n");
    }
    JsonNode body;
    try {
      body = JSON.readTree(req.body());
    } catch (IOException e) {
      violations.add(req.path() + ": body is not JSON: " + req.body());
      return new Answer(400, "{\"Err\":\"bad JSON\"}");
    }
    Set<String> got = new TreeSet<>();
    body.fieldNames().forEachRemaining(got::add);
    if (!body.isObject() || !got.equals(new TreeSet<>(keys))) {
      violations.add(req.path() + ": body keys " + got + ", expected " + new TreeSet<>(keys) + ": " + req.body());
      return new Answer(400, "{\"Err\":\"protocol violation\"}");
    }
    if (keys.contains("ID") && body.path("ID").asText().isEmpty()) {
      violations.add(req.path() + ": empty ID");
    }
    if (keys.contains("Opts") && !body.path("Opts").isObject()) {
      violations.add(req.path() + ": Opts is not an object");
    }
    if (garbage) {
      return new Answer(200, "{\"Mountpoint\": /not json");
    }
    if (req.path().equals(errFor)) {
      return error(errText);
    }
    String name = body.path("Name").asText();
    Path dir = volumes.resolve(name);
    boolean exists = !name.isEmpty() && Files.isDirectory(dir);
    ObjectNode ok = JSON.createObjectNode();
    switch (req.path()) {
      case "/Plugin.Activate":
        ok.set("Implements", JSON.valueToTree(implementsList));
        return json(ok);
      case "/VolumeDriver.Capabilities":
        if (scope == null) {
          return new Answer(404, "404 page not found\n");
        }
        ok.putObject("Capabilities").put("Scope", scope);
        return json(ok);
      case "/VolumeDriver.Create":
        try {
          Files.createDirectories(dir);
          Files.writeString(volumes.resolve("." + name + ".opts"), body.path("Opts").toString());
        } catch (IOException e) {
          return error(e.toString());
        }
        return json(ok.put("Err", ""));
      case "/VolumeDriver.Get":
        if (!exists) {
          return missing(name);
        }
        ok.set("Volume", volume(name));
        return json(ok.put("Err", ""));
      case "/VolumeDriver.List":
        ArrayNode list = ok.putArray("Volumes");
        try (Stream<Path> s = Files.list(volumes)) {
          s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().forEach(n -> list.add(volume(n)));
        } catch (IOException e) {
          return error(e.toString());
        }
        return json(ok.put("Err", ""));
      case "/VolumeDriver.Mount":
        if (!exists) {
          return missing(name);
        }
        mounts.computeIfAbsent(name, k -> ConcurrentHashMap.newKeySet()).add(body.path("ID").asText());
        return json(ok.put("Mountpoint", emptyMountpoint ? "" : dir.toString()).put("Err", ""));
      case "/VolumeDriver.Path":
        if (!exists) {
          return missing(name);
        }
        return json(ok.put("Mountpoint", dir.toString()).put("Err", ""));
      case "/VolumeDriver.Unmount":
        if (!exists) {
          return missing(name);
        }
        Set<String> ids = mounts.getOrDefault(name, Set.of());
        if (!ids.contains(body.path("ID").asText()) && strictUnmount) {
          return error("volume " + name + " is not mounted");
        }
        mounts.computeIfPresent(name, (k, v) -> {
          v.remove(body.path("ID").asText());
          return v.isEmpty() ? null : v;
        });
        return json(ok.put("Err", ""));
      case "/VolumeDriver.Remove":
        if (!exists) {
          return missing(name);
        }
        if (mounts.containsKey(name)) {
          return error("remove " + name + ": volume is in use - " + mounts.get(name));
        }
        try (Stream<Path> s = Files.walk(dir)) {
          for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
            Files.delete(p);
          }
        } catch (IOException e) {
          return error(e.toString());
        }
        return json(ok.put("Err", ""));
      default:
        return new Answer(404, "404 page not found\n");
    }
  }

  private ObjectNode volume(String name) {
    ObjectNode v = JSON.createObjectNode().put("Name", name).put("Mountpoint", volumes.resolve(name).toString());
    v.putObject("Status").put("status", mounts.containsKey(name) ? "in-use" : "available").put("mounts",
        mounts.getOrDefault(name, Set.of()).size());
    return v;
  }

  private Answer missing(String name) {
    return error(oddWording ? "lookup of '" + name + "' failed at the backend" : "no such volume: " + name);
  }

  private Answer error(String text) {
    if (rexrayErrors) {
      return new Answer(500, JSON.createObjectNode().put("Error", text).toString());
    }
    return json(JSON.createObjectNode().put("Err", text));
  }

  private static Answer json(ObjectNode n) {
    return new Answer(200, n.toString());
  }

  private void write(OutputStream out, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    StringBuilder head = new StringBuilder("HTTP/1.1 " + status + " " + (status == 200 ? "OK" : "Error") + "\r\n");
    head.append("Content-Type: application/vnd.docker.plugins.v1+json\r\n");
    if (chunked) {
      head.append("Transfer-Encoding: chunked\r\n\r\n");
      out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
      List<byte[]> parts = new ArrayList<>();
      int third = Math.max(1, b.length / 3);
      for (int i = 0; i < b.length; i += third) {
        parts.add(java.util.Arrays.copyOfRange(b, i, Math.min(b.length, i + third)));
      }
      boolean first = true;
      for (byte[] p : parts) {
        out.write((Integer.toHexString(p.length) + (first ? ";ext=1" : "") + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(p);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        first = false;
      }
      out.write("0\r\nX-Trailer: done\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    } else if (noLength) {
      out.write(head.append("Connection: close\r\n\r\n").toString().getBytes(StandardCharsets.US_ASCII));
      out.write(b);
    } else {
      head.append("Content-Length: ").append(b.length).append("\r\n\r\n");
      out.write(head.toString().getBytes(StandardCharsets.US_ASCII));
      out.write(b);
    }
    out.flush();
  }

  @Override
  public void close() throws IOException {
    closed.countDown();
    server.close();
    for (SocketChannel c : open) {
      c.close();
    }
    pool.shutdownNow();
    if (socket != null) {
      Files.deleteIfExists(socket);
    }
  }
}
