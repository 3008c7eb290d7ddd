package org.dvdi.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.ProviderRegistry;
import org.dvdi.core.request.Grammar;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.host.Commands;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/**
 * Checks an agent's setup, one line a check, each saying what is wrong and how to fix it: the
 * modules file and the library it names (built for the agent's Mesos version), the jar and
 * libjvm, the class-data sharing archive, the state and mount directories, each configured
 * provider, and the agent's own flags. Changes nothing.
 */
@Command(name = "doctor", description = "Check this agent's dvdi setup: modules file, library and Mesos version, jar, "
    + "libjvm, CDS archive, state and mount directories, providers, the agent's flags. Exit 0 when all pass.")
final class DoctorCommand implements Callable<Integer> {
  /** The module names an agent may load dvdi as. */
  static final Set<String> MODULE_NAMES = Set.of("org_dvdi_DvdiIsolator", "com_emccode_mesos_DockerVolumeDriverIsolator");
  /** The library's name says which Mesos it was built for. */
  static final Pattern LIBRARY = Pattern.compile("libmesos_dvdi_isolator-([0-9]+\\.[0-9]+\\.[0-9]+)\\.so");
  static final Pattern MESOS_VERSION = Pattern.compile("([0-9]+\\.[0-9]+\\.[0-9]+)");
  static final Duration HTTP_TIMEOUT = Duration.ofSeconds(5);
  /** How long {@code mesos-agent --version} may take. */
  static final Duration VERSION_TIMEOUT = Duration.ofSeconds(10);

  @ParentCommand
  Main main;

  @Option(names = "--modules", paramLabel = "FILE", description = "the agent's modules file (--modules=file://...)")
  Path modules;

  @Option(names = "--agent", paramLabel = "HOST:PORT", description = "the agent's address: its /version and /flags are read")
  String agent;

  @Option(names = "--mesos-agent", paramLabel = "PATH", description = "the mesos-agent binary (its --version), when no --agent is given")
  Path mesosAgent;

  /** One check's outcome: ok, a warning (works, but worse), or a failure. */
  enum Status { OK, WARN, FAIL }

  record Check(String name, Status status, String detail, String fix) {}

  private final List<Check> checks = new ArrayList<>();
  private String jar;
  private String libjvm;
  private String moduleMesos;

  private void add(Check check) {
    checks.add(check);
  }

  private void ok(String name, String detail) {
    checks.add(new Check(name, Status.OK, detail, ""));
  }

  private void warn(String name, String detail, String fix) {
    checks.add(new Check(name, Status.WARN, detail, fix));
  }

  private void fail(String name, String detail, String fix) {
    checks.add(new Check(name, Status.FAIL, detail, fix));
  }

  @Override
  public Integer call() {
    DvdiConfig c = main.config();
    checkModules();
    checkMesosVersion();
    new JvmChecks(this::add, main.env()).run(jar, libjvm);
    checkDirectory("state directory", DvdiConfig.STATE_DIR, c.stateDir());
    checkDirectory("mount root", DvdiConfig.MOUNT_ROOT, c.mountRoot());
    checkProviders(c);
    checkAgentFlags();
    report();
    return checks.stream().anyMatch(k -> k.status() == Status.FAIL) ? ExitCodes.ERROR : ExitCodes.OK;
  }

  private void checkModules() {
    if (modules == null) {
      warn("modules file", "not checked (no --modules)", "give the agent's modules file with --modules FILE");
      return;
    }
    JsonNode root;
    try {
      root = Output.JSON.readTree(Files.readString(modules));
    } catch (IOException | RuntimeException e) {
      fail("modules file", modules + " does not parse: " + e.getMessage(), "fix the JSON (see modules/dvdi-mod.json)");
      return;
    }
    boolean found = false;
    for (JsonNode lib : root.path("libraries")) {
      for (JsonNode mod : lib.path("modules")) {
        if (!MODULE_NAMES.contains(mod.path("name").asText())) {
          continue;
        }
        found = true;
        String file = lib.path("file").asText("");
        Path f = Path.of(file);
        if (file.isEmpty() || !Files.isRegularFile(f)) {
          fail("module library", "'" + file + "' (named in " + modules + ") does not exist",
              "install the dvdi package for this agent's Mesos version, or fix \"file\"");
        } else {
          Matcher m = LIBRARY.matcher(f.getFileName().toString());
          moduleMesos = m.matches() ? m.group(1) : null;
          ok("module library", file + (moduleMesos == null ? "" : " (built for Mesos " + moduleMesos + ")"));
        }
        for (JsonNode p : mod.path("parameters")) {
          if (p.path("key").asText().equals("jar")) {
            jar = p.path("value").asText();
          } else if (p.path("key").asText().equals("libjvm")) {
            libjvm = p.path("value").asText();
          }
        }
      }
    }
    if (!found) {
      fail("modules file", modules + " names no dvdi module (" + String.join(" or ", new java.util.TreeSet<>(MODULE_NAMES)) + ")",
          "use the modules file the dvdi package installs");
    } else {
      ok("modules file", modules + " parses and names dvdi");
    }
  }

  private void checkMesosVersion() {
    String agentVersion = null;
    String from = null;
    if (agent != null) {
      JsonNode v = getJson("/version");
      if (v != null) {
        agentVersion = v.path("version").asText(null);
        from = "http://" + agent + "/version";
      }
    } else if (mesosAgent != null) {
      agentVersion = versionOf(mesosAgent);
      from = mesosAgent + " --version";
    }
    if (agentVersion == null) {
      if (agent == null && mesosAgent == null) {
        warn("Mesos version", "not checked (no --agent or --mesos-agent)", "give the agent's address with --agent HOST:PORT");
      }
      return;
    }
    if (moduleMesos == null) {
      warn("Mesos version", "the agent runs Mesos " + agentVersion + " (" + from + "); the module's version is unknown",
          "give --modules with a library named libmesos_dvdi_isolator-<version>.so");
    } else if (!moduleMesos.equals(agentVersion)) {
      fail("Mesos version", "the module is built for Mesos " + moduleMesos + ", the agent runs " + agentVersion + " (" + from
          + "): Mesos loads an isolator module only built for exactly its version",
          "install the dvdi package for Mesos " + agentVersion);
    } else {
      ok("Mesos version", agentVersion + " for both the agent (" + from + ") and the module");
    }
  }

  private String versionOf(Path binary) {
    Commands.Result r;
    try {
      r = new Commands().run(List.of(binary.toAbsolutePath().toString(), "--version"), VERSION_TIMEOUT);
    } catch (DvdiException e) {
      fail("Mesos version", "cannot run " + binary + ": " + e.getMessage(), "give the mesos-agent binary");
      return null;
    }
    String out = r.stdout() + r.stderr();
    Matcher m = MESOS_VERSION.matcher(out);
    if (m.find()) {
      return m.group(1);
    }
    fail("Mesos version", binary + " --version printed no version: " + Grammar.printable(out.strip()), "give the mesos-agent binary");
    return null;
  }

  private void checkDirectory(String name, String setting, Path dir) {
    Path p = dir;
    while (p != null && !Files.exists(p)) {
      p = p.getParent();
    }
    if (p == null || !Files.isDirectory(p) || !Files.isWritable(p)) {
      fail(name, dir + " (" + setting + ") cannot be written (" + (p == null ? "no existing parent" : p + " is not a writable directory")
          + ")", "run the agent as root, or set " + setting + " to a writable directory");
    } else {
      ok(name, dir + " (" + setting + ")" + (p.equals(dir) ? "" : ": will be created under " + p));
    }
  }

  private void checkProviders(DvdiConfig c) {
    Set<String> drivers = new LinkedHashSet<>(c.settings().under("drivers").asMap().keySet());
    drivers.add("loop");
    try (ProviderRegistry reg = Main.providers(c)) {
      for (String d : drivers) {
        try {
          int n = reg.get(d).list(Main.call(c, DvdiConfig.Step.LIST, "list " + d)).size();
          ok("provider " + d, "answers (" + n + " volumes)");
        } catch (DvdiException e) {
          fail("provider " + d, e.toString(), "see docs/providers.md for its settings (providers.<type>.*)");
        }
      }
    }
  }

  private void checkAgentFlags() {
    if (agent == null) {
      return;
    }
    JsonNode f = getJson("/flags");
    if (f == null) {
      return;
    }
    JsonNode flags = f.path("flags");
    Set<String> isolation = new LinkedHashSet<>(List.of(flags.path("isolation").asText("").split(",")));
    if (isolation.stream().anyMatch(MODULE_NAMES::contains)) {
      ok("agent --isolation", flags.path("isolation").asText());
    } else {
      fail("agent --isolation", "'" + flags.path("isolation").asText() + "' has no dvdi module",
          "add org_dvdi_DvdiIsolator to the agent's --isolation");
    }
    String launcher = flags.path("launcher").asText("");
    if (launcher.equals("linux")) {
      ok("agent --launcher", "linux");
    } else {
      fail("agent --launcher", "'" + launcher + "': dvdi binds volumes into a mount namespace of the container",
          "start the agent with --launcher=linux");
    }
  }

  private JsonNode getJson(String path) {
    String url = "http://" + agent + path;
    try {
      HttpClient http = HttpClient.newBuilder().connectTimeout(HTTP_TIMEOUT).build();
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(HTTP_TIMEOUT).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        fail("agent " + path, url + " answered HTTP " + r.statusCode(), "check --agent HOST:PORT");
        return null;
      }
      return Output.JSON.readTree(r.body());
    } catch (IOException | IllegalArgumentException e) {
      fail("agent " + path, "cannot read " + url + ": " + e.getMessage(), "check --agent HOST:PORT and that the agent runs");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return null;
  }

  private void report() {
    var out = main.spec.commandLine().getOut();
    if (main.json()) {
      ObjectNode o = Output.JSON.createObjectNode();
      ArrayNode a = o.putArray("checks");
      for (Check k : checks) {
        ObjectNode n = a.addObject();
        n.put("check", k.name());
        n.put("status", k.status().name().toLowerCase(java.util.Locale.ROOT));
        n.put("detail", k.detail());
        if (!k.fix().isEmpty()) {
          n.put("fix", k.fix());
        }
      }
      o.put("ok", checks.stream().noneMatch(k -> k.status() == Status.FAIL));
      Output.json(out, o);
      return;
    }
    for (Check k : checks) {
      out.println(String.format("%-4s  %s: %s%s", k.status(), k.name(), k.detail(), k.fix().isEmpty() ? "" : "; fix: " + k.fix()));
    }
  }
}
