package org.dvdi.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.ZipFile;
import org.dvdi.core.request.Grammar;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.host.Commands;

/**
 * {@code dvdi doctor}'s checks of the Java side as the agent's bridge will meet it: the jar, the
 * libjvm the bridge would load, that libjvm's JDK running dvdi's first calls from the jar, and
 * the class-data sharing archive against that jar and JDK.
 */
final class JvmChecks {
  /** The class the embedded JVM starts dvdi with (the jar must hold it). */
  static final String FACADE_CLASS = "org/dvdi/core/bridge/Facade.class";
  /** Debian's and Ubuntu's default JDK link, the bridge's third libjvm candidate. */
  static final String DEFAULT_JAVA = "/usr/lib/jvm/default-java";
  /** What the bridge does first, runnable from the jar without root (it also trains the CDS archive). */
  static final String TRAINING_CLASS = "org.dvdi.core.bridge.CdsTraining";

  private final Consumer<DoctorCommand.Check> sink;
  private final Map<String, String> env;
  private String jar;
  private String libjvm;
  private Path jvmJava;

  JvmChecks(Consumer<DoctorCommand.Check> sink, Map<String, String> env) {
    this.sink = sink;
    this.env = env;
  }

  /**
   * Runs the checks. {@code jar} and {@code libjvm} are the module's parameters (null when the
   * modules file names none: then this CLI's own jar, and the bridge's libjvm search).
   */
  void run(String jar, String libjvm) {
    this.jar = jar;
    this.libjvm = libjvm;
    checkJar();
    checkLibjvm();
    checkJvmRunsJar();
    checkCds();
  }

  private void ok(String name, String detail) {
    sink.accept(new DoctorCommand.Check(name, DoctorCommand.Status.OK, detail, ""));
  }

  private void warn(String name, String detail, String fix) {
    sink.accept(new DoctorCommand.Check(name, DoctorCommand.Status.WARN, detail, fix));
  }

  private void fail(String name, String detail, String fix) {
    sink.accept(new DoctorCommand.Check(name, DoctorCommand.Status.FAIL, detail, fix));
  }

  private void checkJar() {
    String j = jar;
    if (j == null) {
      j = Main.class.getProtectionDomain().getCodeSource().getLocation().getPath();
    }
    Path p = Path.of(j);
    if (!Files.isRegularFile(p)) {
      fail("jar", j + " does not exist", "install the dvdi package, or fix the module parameter 'jar'");
      return;
    }
    try (ZipFile z = new ZipFile(p.toFile())) {
      if (z.getEntry(FACADE_CLASS) == null) {
        fail("jar", j + " holds no " + FACADE_CLASS + ": not dvdi's jar", "point the module parameter 'jar' at dvdi.jar");
        return;
      }
    } catch (IOException e) {
      fail("jar", j + " is not a readable jar: " + e.getMessage(), "reinstall the dvdi package");
      return;
    }
    jar = j;
    ok("jar", j);
  }

  /**
   * The libjvm the bridge would load, in the bridge's own order (native/bridge/jvm.cpp,
   * libjvmCandidates): the module parameter, $JAVA_HOME, /usr/lib/jvm/default-java, then the JDK
   * of /usr/bin/java. The agent's environment may differ from this shell's: the line says which
   * source it used.
   */
  private void checkLibjvm() {
    List<String[]> candidates = new ArrayList<>();
    if (libjvm != null) {
      candidates.add(new String[] {libjvm, "module parameter 'libjvm'"});
    } else {
      String home = env.get("JAVA_HOME");
      if (home != null && !home.isEmpty()) {
        candidates.add(new String[] {home + "/lib/server/libjvm.so", "$JAVA_HOME"});
      }
      candidates.add(new String[] {DEFAULT_JAVA + "/lib/server/libjvm.so", DEFAULT_JAVA});
      try {
        Path java = Path.of("/usr/bin/java").toRealPath();
        if (java.endsWith("bin/java")) {
          candidates.add(new String[] {java.getParent().getParent() + "/lib/server/libjvm.so", "the JDK of /usr/bin/java"});
        }
      } catch (IOException e) {
        // no /usr/bin/java: not a candidate
      }
    }
    for (String[] c : candidates) {
      if (Files.isRegularFile(Path.of(c[0]))) {
        Path lib = Path.of(c[0]);
        try {
          lib = lib.toRealPath();
        } catch (IOException e) {
          // keep the path as given
        }
        ok("libjvm", lib + " (" + c[1] + ")");
        // <jdk>/lib/server/libjvm.so: the launcher of the same JDK loads this very libjvm.
        Path jdk = lib.getParent() == null || lib.getParent().getParent() == null ? null : lib.getParent().getParent().getParent();
        Path java = jdk == null ? null : jdk.resolve("bin").resolve("java");
        jvmJava = java != null && Files.isExecutable(java) ? java : null;
        return;
      }
    }
    String tried = candidates.stream().map(c -> c[0]).reduce((a, b) -> a + ", " + b).orElse("");
    fail("libjvm", (libjvm != null ? libjvm + " (module parameter 'libjvm') does not exist" : "none found (tried " + tried + ")"),
        "install a JDK 17+ (openjdk-17-jre-headless), set JAVA_HOME for the agent, or set the module parameter 'libjvm'");
  }

  /**
   * The JVM of that libjvm starts and runs dvdi from the jar: {@code CdsTraining}, which does
   * what the bridge does first (init, ping, prepare, cleanup, recover) on a temporary directory,
   * without root and without mounting anything. A JDK too old for the jar's classes fails here.
   */
  private void checkJvmRunsJar() {
    if (jar == null || jvmJava == null) {
      if (jar != null) {
        fail("JVM runs the jar", "no bin/java in the JDK of that libjvm", "install a full JDK or JRE 17+ (with bin/java)");
      }
      return;
    }
    Result r = runJava(List.of(jvmJava.toString(), "-Xshare:auto", "-cp", jar, TRAINING_CLASS));
    if (r.ok()) {
      ok("JVM runs the jar", jvmJava + " ran " + TRAINING_CLASS + " from " + jar + " (init, prepare, cleanup, recover)");
    } else {
      fail("JVM runs the jar", jvmJava + " could not run " + TRAINING_CLASS + " from " + jar + ": " + r.detail(),
          "install a JDK 17+ for the agent (its libjvm), or reinstall the dvdi package");
    }
  }

  private void checkCds() {
    if (jar == null) {
      return;
    }
    Path jsa = Path.of(jar).resolveSibling("dvdi.jsa");
    Path java = jvmJava != null ? jvmJava : Path.of(System.getProperty("java.home"), "bin", "java");
    String train = "train it: " + java + " -XX:ArchiveClassesAtExit=" + jsa + " -cp " + jar + " " + TRAINING_CLASS;
    if (!Files.isRegularFile(jsa)) {
      warn("CDS archive", "no " + jsa + ": the JVM starts without class-data sharing (slower)", train);
      return;
    }
    Result r = runJava(List.of(java.toString(), "-Xshare:on", "-XX:SharedArchiveFile=" + jsa, "-cp", jar, "-version"));
    if (r.ok()) {
      ok("CDS archive", jsa + " matches " + jar + " and " + java);
    } else {
      fail("CDS archive", jsa + " does not match this jar and JDK: " + r.detail(), train);
    }
  }

  record Result(boolean ok, String detail) {}

  /** How long a JVM the checks start may take. */
  private static final Duration JAVA_TIMEOUT = Duration.ofSeconds(60);

  /** Runs a JVM through {@link Commands}; the line of its output that names an error says why it failed. */
  private static Result runJava(List<String> argv) {
    try {
      Commands.Result r = new Commands().run(argv, JAVA_TIMEOUT);
      return r.ok() ? new Result(true, "")
          : new Result(false, "exit " + r.exitCode() + ": " + Grammar.printable(firstErrorLine(r.stderr() + "\n" + r.stdout())));
    } catch (DvdiException e) {
      return new Result(false, e.getCode() == ErrorCode.TIMEOUT ? "no answer in " + JAVA_TIMEOUT.toSeconds() + " s" : e.getMessage());
    }
  }

  /** The line that says what went wrong: the first naming an error or exception, else the last. */
  private static String firstErrorLine(String s) {
    for (String line : s.strip().split("\n")) {
      if (line.contains("Error") || line.contains("Exception") || line.contains("error:")) {
        return line.strip();
      }
    }
    return lastLine(s);
  }

  private static String lastLine(String s) {
    String[] lines = s.strip().split("\n");
    return lines.length == 0 ? "" : lines[lines.length - 1];
  }
}
