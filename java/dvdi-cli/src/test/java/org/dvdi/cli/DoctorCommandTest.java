package org.dvdi.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dvdi doctor} against a made-up agent: a modules file, a jar, and an HTTP server as the agent's endpoints. */
class DoctorCommandTest {
  @TempDir
  Path tmp;

  HttpServer agent;
  String version = "1.11.0";
  String flags = "{\"flags\":{\"isolation\":\"filesystem/linux,org_dvdi_DvdiIsolator\",\"launcher\":\"linux\"}}";
  Path modules;

  record Run(int code, String out, String err) {}

  @BeforeEach
  void setUp() throws Exception {
    agent = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    agent.createContext("/version", x -> answer(x, "{\"version\":\"" + version + "\"}"));
    agent.createContext("/flags", x -> answer(x, flags));
    agent.start();
    Path lib = Files.createFile(tmp.resolve("libmesos_dvdi_isolator-1.11.0.so"));
    Path jar = runnableJar(tmp.resolve("dvdi.jar"));
    modules = tmp.resolve("dvdi-mod.json");
    Files.writeString(modules, "{\"libraries\":[{\"file\":\"" + lib + "\",\"modules\":[{\"name\":\"org_dvdi_DvdiIsolator\","
        + "\"parameters\":[{\"key\":\"jar\",\"value\":\"" + jar + "\"}]}]}]}");
  }

  /**
   * A stand-in for dvdi.jar that a JVM can run: it holds the facade class and names this test's
   * class path (dvdi-core's classes, Jackson, ...) in its manifest's Class-Path.
   */
  static Path runnableJar(Path jar) throws IOException {
    Manifest m = new Manifest();
    m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    StringBuilder cp = new StringBuilder();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      cp.append(cp.length() == 0 ? "" : " ").append(Path.of(entry).toUri());
    }
    m.getMainAttributes().put(Attributes.Name.CLASS_PATH, cp.toString());
    try (JarOutputStream z = new JarOutputStream(Files.newOutputStream(jar), m);
        InputStream facade = DoctorCommandTest.class.getClassLoader().getResourceAsStream(JvmChecks.FACADE_CLASS)) {
      z.putNextEntry(new ZipEntry(JvmChecks.FACADE_CLASS));
      z.write(facade.readAllBytes());
      z.closeEntry();
    }
    return jar;
  }

  static void answer(com.sun.net.httpserver.HttpExchange x, String body) throws java.io.IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    x.sendResponseHeaders(200, b.length);
    x.getResponseBody().write(b);
    x.close();
  }

  @AfterEach
  void tearDown() {
    agent.stop(0);
  }

  Run doctor(String... extra) {
    List<String> all = new ArrayList<>(List.of("--set", "state.dir=" + tmp.resolve("state"), "--set",
        "mount.root=" + tmp.resolve("volumes"), "--set", "providers.loop.pool=" + tmp.resolve("pool")));
    all.addAll(List.of(extra));
    all.addAll(List.of("doctor", "--modules", modules.toString(), "--agent", "127.0.0.1:" + agent.getAddress().getPort()));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(all.toArray(new String[0]), new PrintWriter(out), new PrintWriter(err), Map.of());
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void aGoodSetupPassesEveryCheck() {
    Run r = doctor();
    assertEquals(0, r.code(), r.out() + r.err());
    for (String check : List.of("modules file", "module library", "Mesos version", "jar", "libjvm", "JVM runs the jar", "state directory",
        "mount root", "provider loop", "agent --isolation", "agent --launcher")) {
      assertTrue(r.out().matches("(?s).*OK    " + check + ": .*"), check + " passes:\n" + r.out());
    }
    assertTrue(r.out().contains("WARN  CDS archive: no "), "a missing CDS archive is a warning, with how to train it:\n" + r.out());
  }

  @Test
  void aModuleForAnotherMesosVersionFailsNamingBoth() {
    version = "1.10.0";
    Run r = doctor();
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("FAIL  Mesos version: the module is built for Mesos 1.11.0, the agent runs 1.10.0"), r.out());
    assertTrue(r.out().contains("fix: install the dvdi package for Mesos 1.10.0"), r.out());
  }

  @Test
  void anAgentWithoutTheModuleOrTheLinuxLauncherFails() throws Exception {
    flags = "{\"flags\":{\"isolation\":\"filesystem/linux,docker/runtime\",\"launcher\":\"posix\"}}";
    Run r = doctor("-o", "json");
    assertEquals(1, r.code(), r.out());
    JsonNode j = Output.JSON.readTree(r.out());
    assertEquals(false, j.get("ok").asBoolean());
    List<String> failed = new ArrayList<>();
    j.get("checks").forEach(c -> {
      if (c.get("status").asText().equals("fail")) {
        failed.add(c.get("check").asText());
      }
    });
    assertEquals(List.of("agent --isolation", "agent --launcher"), failed, r.out());
  }

  @Test
  void aMissingLibraryAndAJarThatIsNotDvdisFail() throws Exception {
    Files.delete(tmp.resolve("libmesos_dvdi_isolator-1.11.0.so"));
    Files.write(tmp.resolve("dvdi.jar"), new byte[] {1, 2, 3});
    Run r = doctor();
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("FAIL  module library: '" + tmp.resolve("libmesos_dvdi_isolator-1.11.0.so") + "'"), r.out());
    assertTrue(r.out().contains("FAIL  jar: " + tmp.resolve("dvdi.jar") + " is not a readable jar"), r.out());
  }

  @Test
  void aJarTheJvmCannotRunFailsWithTheJvmsReason() throws Exception {
    // dvdi's facade class, but nothing it needs: the JVM of the libjvm starts and cannot run dvdi.
    try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(tmp.resolve("dvdi.jar")));
        InputStream facade = getClass().getClassLoader().getResourceAsStream(JvmChecks.FACADE_CLASS)) {
      z.putNextEntry(new ZipEntry(JvmChecks.FACADE_CLASS));
      z.write(facade.readAllBytes());
      z.closeEntry();
    }
    Run r = doctor();
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("OK    jar: "), r.out());
    assertTrue(r.out().matches("(?s).*FAIL  JVM runs the jar: \\S+/bin/java could not run " + JvmChecks.TRAINING_CLASS
        + " from " + tmp.resolve("dvdi.jar") + ": exit 1: Error: Could not find or load main class .*"), r.out());
  }

  @Test
  void aLibjvmParameterThatDoesNotExistFails() throws Exception {
    Files.writeString(modules, Files.readString(modules).replace("{\"key\":\"jar\"",
        "{\"key\":\"libjvm\",\"value\":\"" + tmp.resolve("no-jdk/lib/server/libjvm.so") + "\"},{\"key\":\"jar\""));
    Run r = doctor();
    assertEquals(1, r.code(), r.out());
    assertTrue(r.out().contains("FAIL  libjvm: " + tmp.resolve("no-jdk/lib/server/libjvm.so")
        + " (module parameter 'libjvm') does not exist"), r.out());
  }
}
