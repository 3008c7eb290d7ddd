package org.dvdi.provider.ebs;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An instance metadata service as EC2 runs it with IMDSv2 required: PUT /latest/api/token
 * (with a TTL header) gives a token; GETs without a valid token get 401.
 */
final class FakeImds implements AutoCloseable {
  static final String TOKEN = "AQAEAFakeToken==";

  private final HttpServer server;
  final Map<String, String> values = new ConcurrentHashMap<>();
  final List<String> requests = new CopyOnWriteArrayList<>();
  volatile boolean v1Allowed = false;
  volatile boolean tokenWorks = true;
  volatile long delayMs = 0;

  FakeImds(String region, String zone, String instance) throws IOException {
    values.put(InstanceMetadata.REGION_PATH, region);
    values.put(InstanceMetadata.ZONE_PATH, zone);
    values.put(InstanceMetadata.INSTANCE_PATH, instance);
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", this::handle);
    server.start();
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  private void handle(HttpExchange x) throws IOException {
    try (x) {
      String path = x.getRequestURI().getPath();
      requests.add(x.getRequestMethod() + " " + path);
      if (delayMs > 0) {
        try {
          Thread.sleep(delayMs);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (path.equals(InstanceMetadata.TOKEN_PATH)) {
        if (!tokenWorks) {
          reply(x, 404, "");
        } else if (!x.getRequestMethod().equals("PUT") || x.getRequestHeaders().getFirst(InstanceMetadata.TOKEN_TTL_HEADER) == null) {
          reply(x, 400, "");
        } else {
          reply(x, 200, TOKEN);
        }
        return;
      }
      String token = x.getRequestHeaders().getFirst(InstanceMetadata.TOKEN_HEADER);
      if (!TOKEN.equals(token) && !v1Allowed) {
        reply(x, 401, "");
        return;
      }
      String v = values.get(path);
      reply(x, v == null ? 404 : 200, v == null ? "" : v);
    }
  }

  private static void reply(HttpExchange x, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    x.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
    if (b.length > 0) {
      x.getResponseBody().write(b);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
