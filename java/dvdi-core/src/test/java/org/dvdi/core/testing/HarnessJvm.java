package org.dvdi.core.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Starts {@link CrashHarness} in a JVM of its own, with the test's class path (so the test
 * providers are there), the test's logging setup, and options for a short-lived JVM.
 */
public final class HarnessJvm {
  /** A short run: compile quickly, collect simply. */
  private static final List<String> QUICK = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k");

  private HarnessJvm() {}

  /**
   * The command line: {@code jvmOptions} (system properties, agents), then the harness with
   * {@code harnessArgs} (the operation and its operands) and {@code settings} (as key=value).
   */
  public static List<String> command(List<String> jvmOptions, List<String> harnessArgs, Map<String, String> settings) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.addAll(QUICK);
    String logging = System.getProperty("java.util.logging.config.file");
    if (logging != null) {
      cmd.add("-Djava.util.logging.config.file=" + logging);
    }
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(CrashHarness.class.getName());
    cmd.addAll(harnessArgs);
    new TreeMap<>(settings).forEach((k, v) -> cmd.add(k + "=" + v));
    return cmd;
  }

  /** Starts it, its output (both streams) going to {@code log}. */
  public static Process start(List<String> cmd, Path log) throws IOException {
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }
}
