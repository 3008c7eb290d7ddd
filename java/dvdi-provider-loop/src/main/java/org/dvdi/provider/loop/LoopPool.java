package org.dvdi.provider.loop;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.host.AtomicFiles;
import org.dvdi.spi.host.FileLocks;

/**
 * The pool directory shared by every agent that uses it: for each volume an image file
 * {@code <name>.img}, a metadata file {@code <name>.meta} (versioned; who holds the volume),
 * and a lock file {@code <name>.lock} that serialises holder changes across processes.
 */
final class LoopPool {
  /** Version of the metadata file format. */
  static final int META_FORMAT = 1;

  /** A volume's metadata. */
  record Meta(String name, long sizeBytes, long createdMs, String holder, long holderSinceMs) {
    Meta withHolder(String h, long since) {
      return new Meta(name, sizeBytes, createdMs, h, since);
    }

    boolean held() {
      return !holder.isEmpty();
    }
  }

  private final Path dir;

  LoopPool(Path dir) {
    this.dir = dir;
  }

  Path dir() {
    return dir;
  }

  Path image(String name) {
    return dir.resolve(name + ".img");
  }

  private Path meta(String name) {
    return dir.resolve(name + ".meta");
  }

  Optional<Meta> read(String name) {
    Path m = meta(name);
    if (!Files.exists(m) || !Files.exists(image(name))) {
      return Optional.empty();
    }
    Properties p = new Properties();
    try {
      p.load(new StringReader(Files.readString(m, StandardCharsets.UTF_8)));
    } catch (IOException e) {
      throw DvdiException.provider("cannot read loop volume metadata " + m + ": " + e.getMessage(), e);
    }
    int format;
    try {
      format = Integer.parseInt(p.getProperty("format", "0"));
    } catch (NumberFormatException e) {
      format = 0;
    }
    if (format != META_FORMAT) {
      throw DvdiException.provider("loop volume metadata " + m + " has format " + p.getProperty("format")
          + "; this dvdi reads format " + META_FORMAT);
    }
    try {
      return Optional.of(new Meta(p.getProperty("name", name), Long.parseLong(p.getProperty("size", "0")),
          Long.parseLong(p.getProperty("created", "0")), p.getProperty("holder", ""),
          Long.parseLong(p.getProperty("holder-since", "0"))));
    } catch (NumberFormatException e) {
      throw DvdiException.provider("loop volume metadata " + m + " is damaged: " + e.getMessage());
    }
  }

  void write(Meta meta) {
    Properties p = new Properties();
    p.setProperty("format", Integer.toString(META_FORMAT));
    p.setProperty("name", meta.name());
    p.setProperty("size", Long.toString(meta.sizeBytes()));
    p.setProperty("created", Long.toString(meta.createdMs()));
    p.setProperty("holder", meta.holder());
    p.setProperty("holder-since", Long.toString(meta.holderSinceMs()));
    StringWriter w = new StringWriter();
    try {
      p.store(w, "dvdi loop volume");
      AtomicFiles.write(meta(meta.name()), w.toString().getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw DvdiException.provider("cannot write loop volume metadata for " + meta.name() + ": " + e.getMessage(), e);
    }
  }

  void delete(String name) throws IOException {
    Files.deleteIfExists(image(name));
    Files.deleteIfExists(meta(name));
    AtomicFiles.syncDirectory(dir);
  }

  List<String> names() {
    List<String> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.meta")) {
      for (Path p : ds) {
        String f = p.getFileName().toString();
        out.add(f.substring(0, f.length() - ".meta".length()));
      }
    } catch (IOException e) {
      throw DvdiException.provider("cannot list loop pool " + dir + ": " + e.getMessage(), e);
    }
    out.sort(null);
    return out;
  }

  /** Runs {@code body} holding the volume's lock, across threads and processes. */
  <T> T locked(String name, Duration timeout, java.util.function.Supplier<T> body) {
    try (FileLocks.Held held = FileLocks.lock(dir.resolve(name + ".lock"), false, timeout, "the lock of loop volume " + name)) {
      return body.get();
    }
  }
}
