package org.dvdi.provider.plugin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.dvdi.spi.DvdiException;

/**
 * Finds a Docker volume plugin by name the way Docker's {@code pkg/plugins} does, in this
 * order: a unix socket {@code <socketdir>/<name>.sock} (or {@code <socketdir>/<name>/<name>.sock});
 * else, in each spec directory, {@code <name>.spec} holding one URL ({@code unix:///path} or
 * {@code tcp://host:port}), then {@code <name>.json} ({@code {"Name", "Addr", "TLSConfig"}}),
 * each also in a {@code <name>/} sub-directory.
 *
 * <p>The files are read on every look-up (a few stat calls): a plugin that restarts on a new
 * address is followed without restarting dvdi. A spec that cannot be used (unknown scheme,
 * TLS, unreadable JSON) is the installation's mistake and fails with INVALID_CONFIG naming the
 * file; dvdi speaks plain HTTP only, so TLS (an {@code https://} address, or certificate files
 * in {@code TLSConfig}) is refused rather than silently sent in clear.
 */
final class PluginDiscovery {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_SPEC = 64 * 1024;
  private static final int S_IFMT = 0170000;
  private static final int S_IFSOCK = 0140000;

  /**
   * Where a plugin listens.
   *
   * @param url the address as written (unix:///path or tcp://host:port)
   * @param socket the socket path for unix addresses, else null
   * @param host the host for tcp addresses
   * @param port the port for tcp addresses
   * @param source the file it was found as
   */
  record Address(String url, Path socket, String host, int port, Path source) {
    boolean unix() {
      return socket != null;
    }

    @Override
    public String toString() {
      return unix() && socket.equals(source) ? url : url + " (from " + source + ")";
    }
  }

  private final List<Path> socketDirs;
  private final List<Path> specDirs;

  PluginDiscovery(List<Path> socketDirs, List<Path> specDirs) {
    this.socketDirs = List.copyOf(socketDirs);
    this.specDirs = List.copyOf(specDirs);
  }

  /** The plugin's address, or empty when no socket or spec of that name exists. */
  Optional<Address> find(String name) {
    for (Path dir : socketDirs) {
      for (Path p : candidates(dir, name, ".sock")) {
        if (isSocket(p)) {
          return Optional.of(new Address("unix://" + p, p, "", 0, p));
        }
      }
    }
    for (Path dir : specDirs) {
      for (String ext : List.of(".spec", ".json")) {
        for (Path p : candidates(dir, name, ext)) {
          Optional<String> text = read(p);
          if (text.isPresent()) {
            return Optional.of(ext.equals(".spec") ? parseUrl(text.get().strip(), p) : parseJson(text.get(), p));
          }
        }
      }
    }
    return Optional.empty();
  }

  /** Where {@link #find} looks, for error messages. */
  String searched(String name) {
    List<String> s = new ArrayList<>();
    for (Path d : socketDirs) {
      s.add(d.resolve(name + ".sock").toString());
    }
    for (Path d : specDirs) {
      s.add(d.resolve(name + ".{spec,json}").toString());
    }
    return String.join(", ", s) + " (and <name>/ sub-directories)";
  }

  private static List<Path> candidates(Path dir, String name, String ext) {
    return List.of(dir.resolve(name + ext), dir.resolve(name).resolve(name + ext));
  }

  private static boolean isSocket(Path p) {
    try {
      return ((Integer) Files.getAttribute(p, "unix:mode") & S_IFMT) == S_IFSOCK;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  private static Optional<String> read(Path p) {
    try {
      if (!Files.isRegularFile(p)) {
        return Optional.empty();
      }
      if (Files.size(p) > MAX_SPEC) {
        throw DvdiException.config("Docker plugin spec " + p + " is larger than " + MAX_SPEC + " bytes");
      }
      return Optional.of(Files.readString(p, StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw DvdiException.config("cannot read Docker plugin spec " + p + ": " + e.getMessage());
    }
  }

  /** A spec URL: unix:///absolute/path or tcp://host:port ("tcp://:port" is this host). */
  static Address parseUrl(String url, Path source) {
    String lower = url.toLowerCase(Locale.ROOT);
    if (lower.startsWith("unix://")) {
      String path = url.substring("unix://".length());
      if (!path.startsWith("/")) {
        throw DvdiException.config("Docker plugin spec " + source + ": '" + url + "' must name an absolute socket path (unix:///path)");
      }
      return new Address(url, Path.of(path).normalize(), "", 0, source);
    }
    if (lower.startsWith("tcp://")) {
      String hostPort = url.substring("tcp://".length());
      if (hostPort.endsWith("/")) {
        hostPort = hostPort.substring(0, hostPort.length() - 1);
      }
      int colon = hostPort.lastIndexOf(':');
      int port = -1;
      if (colon >= 0) {
        try {
          port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
          port = -1;
        }
      }
      if (port < 1 || port > 65535 || hostPort.contains("/")) {
        throw DvdiException.config("Docker plugin spec " + source + ": '" + url + "' must be tcp://host:port");
      }
      String host = hostPort.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      return new Address(url, null, host.isEmpty() ? "127.0.0.1" : host, port, source);
    }
    if (lower.startsWith("https://")) {
      throw tls(source, "address " + url);
    }
    throw DvdiException.config("Docker plugin spec " + source + ": unsupported address '" + url
        + "': use unix:///path or tcp://host:port");
  }

  private static Address parseJson(String text, Path source) {
    JsonNode spec;
    try {
      spec = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw DvdiException.config("Docker plugin spec " + source + " is not valid JSON: " + e.getOriginalMessage());
    }
    if (spec == null || !spec.path("Addr").isTextual() || spec.path("Addr").asText().isBlank()) {
      throw DvdiException.config("Docker plugin spec " + source + " has no \"Addr\" (expected {\"Name\", \"Addr\"})");
    }
    JsonNode tlsConfig = spec.path("TLSConfig");
    for (String f : List.of("CAFile", "CertFile", "KeyFile")) {
      if (!tlsConfig.path(f).asText("").isEmpty()) {
        throw tls(source, "TLSConfig." + f);
      }
    }
    return parseUrl(spec.path("Addr").asText().strip(), source);
  }

  private static DvdiException tls(Path source, String what) {
    return DvdiException.config("Docker plugin spec " + source + " asks for TLS (" + what
        + "), which dvdi does not support: serve the plugin on a unix socket or on plain tcp:// bound to this host");
  }
}
