package org.dvdi.provider.ebs;

import java.io.File;
import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A moto server (Python moto: a real EC2 API emulator) on a free 127.0.0.1 port, started by
 * the tests themselves: once per test JVM, its state reset before every test class. Test
 * classes that need it are named *MotoTest and use {@code @ExtendWith(MotoServer.class)}; they
 * are skipped, with that said, when {@code moto_server} is not on the PATH (CI has it).
 */
public final class MotoServer implements ExecutionCondition, BeforeAllCallback {
  private static Process process;
  private static URI endpoint;

  /** The endpoint of the running server (after the extension's beforeAll). */
  static synchronized URI endpoint() {
    if (endpoint == null) {
      throw new IllegalStateException("moto server not started: use @ExtendWith(MotoServer.class)");
    }
    return endpoint;
  }

  static Optional<Path> binary() {
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    for (String dir : path.split(File.pathSeparator)) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, "moto_server");
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    return binary().isPresent()
        ? ConditionEvaluationResult.enabled("moto_server found")
        : ConditionEvaluationResult.disabled("SKIPPED: moto_server is not on the PATH; these tests run the EC2 API"
            + " against moto (pip install 'moto[server]'); CI has it");
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    start();
    reset();
  }

  private static synchronized void start() throws Exception {
    if (process != null && process.isAlive()) {
      return;
    }
    Path bin = binary().orElseThrow();
    Exception last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      int port;
      try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        port = s.getLocalPort();
      }
      Path log = Files.createTempFile("moto-", ".log");
      ProcessBuilder pb = new ProcessBuilder(bin.toString(), "-H", "127.0.0.1", "-p", Integer.toString(port))
          .redirectErrorStream(true).redirectOutput(log.toFile());
      Process p = pb.start();
      URI uri = URI.create("http://127.0.0.1:" + port);
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < until && p.isAlive()) {
        if (ready(uri)) {
          process = p;
          endpoint = uri;
          Runtime.getRuntime().addShutdownHook(new Thread(MotoServer::stop, "moto-stop"));
          return;
        }
        Thread.sleep(100);
      }
      last = new IllegalStateException("moto_server did not start on port " + port + ": " + Files.readString(log));
      p.destroyForcibly();
    }
    throw last;
  }

  private static boolean ready(URI uri) {
    try {
      HttpURLConnection c = (HttpURLConnection) uri.resolve("/moto-api/").toURL().openConnection();
      c.setConnectTimeout(500);
      c.setReadTimeout(2000);
      return c.getResponseCode() == 200;
    } catch (IOException e) {
      return false;
    }
  }

  /** Forgets every resource (a fresh account for the next test class). */
  static void reset() throws IOException {
    HttpURLConnection c = (HttpURLConnection) endpoint().resolve("/moto-api/reset").toURL().openConnection();
    c.setRequestMethod("POST");
    if (c.getResponseCode() != 200) {
      throw new IOException("moto reset answered HTTP " + c.getResponseCode());
    }
  }

  private static synchronized void stop() {
    if (process != null) {
      process.destroy();
      try {
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
      }
    }
  }
}
