package org.dvdi.spi.host;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;

/**
 * Runs external commands the only way dvdi runs them: an argument vector (never a shell),
 * a binary found in a fixed system path (never the caller's PATH), a clean environment,
 * and a timeout after which the process is killed.
 */
public final class Commands {
  private static final Logger LOG = Logger.getLogger(Commands.class.getName());

  /** Where system tools are looked up; the agent's or a task's PATH plays no part. */
  public static final List<String> SYSTEM_PATH =
      List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin");

  private static final int MAX_OUTPUT = 1 << 20;

  private final Map<String, Path> resolved = new ConcurrentHashMap<>();
  private final AtomicLong calls = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();

  /** The result of a finished command. */
  public record Result(List<String> argv, int exitCode, String stdout, String stderr, long millis) {
    public boolean ok() {
      return exitCode == 0;
    }

    /** stderr, else stdout, trimmed and shortened for an error message. */
    public String diagnostics() {
      String s = stderr.isBlank() ? stdout : stderr;
      s = s.strip();
      return s.length() > 2000 ? s.substring(0, 2000) + "..." : s;
    }
  }

  /** Absolute path of a system binary, or empty if it is not installed. */
  public java.util.Optional<Path> find(String binary) {
    if (binary.startsWith("/")) {
      Path p = Path.of(binary);
      return Files.isExecutable(p) ? java.util.Optional.of(p) : java.util.Optional.empty();
    }
    Path cached = resolved.get(binary);
    if (cached != null) {
      return java.util.Optional.of(cached);
    }
    for (String dir : SYSTEM_PATH) {
      Path p = Path.of(dir, binary);
      if (Files.isExecutable(p)) {
        resolved.put(binary, p);
        return java.util.Optional.of(p);
      }
    }
    return java.util.Optional.empty();
  }

  /**
   * Runs {@code argv} (argv[0] a binary name looked up in {@link #SYSTEM_PATH}, or an
   * absolute path) and waits at most {@code timeout}. A command that does not finish in time
   * is killed and the call fails with TIMEOUT. A binary that is not installed fails with
   * PROVIDER_FAILURE. The exit code is returned, not judged: see {@link #check}.
   */
  public Result run(List<String> argv, Duration timeout) {
    return run(argv, timeout, null);
  }

  /** As {@link #run(List, Duration)}, with {@code stdin} written to the process. */
  public Result run(List<String> argv, Duration timeout, byte[] stdin) {
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("empty argv");
    }
    Path bin = find(argv.get(0)).orElseThrow(() -> DvdiException.provider(
        "'" + argv.get(0) + "' is not installed (looked in " + String.join(":", SYSTEM_PATH) + ")"));
    List<String> full = new ArrayList<>(argv);
    full.set(0, bin.toString());
    ProcessBuilder pb = new ProcessBuilder(full);
    Map<String, String> env = pb.environment();
    env.clear();
    env.put("PATH", String.join(":", SYSTEM_PATH));
    env.put("LC_ALL", "C");
    long start = System.nanoTime();
    calls.incrementAndGet();
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      failures.incrementAndGet();
      throw DvdiException.provider("could not start " + String.join(" ", full) + ": " + e.getMessage(), e);
    }
    StreamCollector out = new StreamCollector(p.getInputStream());
    StreamCollector err = new StreamCollector(p.getErrorStream());
    out.start();
    err.start();
    try {
      if (stdin != null) {
        p.getOutputStream().write(stdin);
      }
      p.getOutputStream().close();
    } catch (IOException e) {
      // The process may exit without reading; its exit code tells the rest.
    }
    boolean done;
    try {
      done = p.waitFor(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      failures.incrementAndGet();
      throw DvdiException.timeout(String.join(" ", full) + ": interrupted (its call was abandoned); killed");
    }
    if (!done) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      try {
        p.waitFor(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      failures.incrementAndGet();
      throw DvdiException.timeout(String.join(" ", full) + ": did not finish within "
          + timeout.toMillis() + " ms; killed");
    }
    long millis = (System.nanoTime() - start) / 1_000_000;
    Result r = new Result(List.copyOf(full), p.exitValue(), out.text(), err.text(), millis);
    if (!r.ok()) {
      failures.incrementAndGet();
    }
    if (LOG.isLoggable(Level.FINE)) {
      LOG.fine(String.join(" ", full) + " -> " + r.exitCode() + " in " + millis + " ms");
    }
    return r;
  }

  /** Runs with the context's remaining time as the timeout. */
  public Result run(List<String> argv, CallContext ctx) {
    ctx.check(argv.get(0));
    return run(argv, ctx.remaining());
  }

  /** Runs and fails with PROVIDER_FAILURE (naming {@code what} and stderr) unless it exits 0. */
  public Result check(List<String> argv, CallContext ctx, String what) {
    Result r = run(argv, ctx);
    if (!r.ok()) {
      throw DvdiException.provider(what + " failed: " + String.join(" ", r.argv()) + " exited "
          + r.exitCode() + (r.diagnostics().isEmpty() ? "" : ": " + r.diagnostics()));
    }
    return r;
  }

  public long calls() {
    return calls.get();
  }

  public long failures() {
    return failures.get();
  }

  /** Reads a stream fully on its own thread, keeping at most {@link #MAX_OUTPUT} bytes. */
  private static final class StreamCollector extends Thread {
    private final InputStream in;
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

    StreamCollector(InputStream in) {
      super("dvdi-cmd-io");
      setDaemon(true);
      this.in = in;
    }

    @Override
    public void run() {
      byte[] b = new byte[8192];
      try (in) {
        int n;
        while ((n = in.read(b)) > 0) {
          synchronized (buf) {
            if (buf.size() < MAX_OUTPUT) {
              buf.write(b, 0, Math.min(n, MAX_OUTPUT - buf.size()));
            }
          }
        }
      } catch (IOException e) {
        // The process went away; what was read is kept.
      }
    }

    String text() {
      try {
        join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      synchronized (buf) {
        return buf.toString(StandardCharsets.UTF_8);
      }
    }
  }
}
