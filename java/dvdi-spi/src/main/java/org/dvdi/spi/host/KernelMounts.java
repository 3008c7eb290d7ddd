package org.dvdi.spi.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.dvdi.spi.DvdiException;

/** The kernel's mount table of this process's mount namespace ({@code /proc/self/mountinfo}). */
public final class KernelMounts {
  public static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  /** One line of mountinfo. */
  public record Mount(int id, int parentId, String majorMinor, String root, String mountPoint,
      String options, String fsType, String source) {
    public boolean readOnly() {
      return options.equals("ro") || options.startsWith("ro,");
    }
  }

  private final List<Mount> mounts;

  private KernelMounts(List<Mount> mounts) {
    this.mounts = List.copyOf(mounts);
  }

  /** Reads the current table. */
  public static KernelMounts read() {
    try {
      return parse(Files.readString(MOUNTINFO, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw DvdiException.internal("cannot read " + MOUNTINFO, e);
    }
  }

  /** Parses mountinfo text (see proc(5)). */
  public static KernelMounts parse(String text) {
    List<Mount> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split(" ");
      int sep = -1;
      for (int i = 6; i < f.length; i++) {
        if (f[i].equals("-")) {
          sep = i;
          break;
        }
      }
      if (f.length < 10 || sep < 0 || sep + 2 >= f.length) {
        continue;
      }
      out.add(new Mount(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2], unescape(f[3]),
          unescape(f[4]), f[5], f[sep + 1], unescape(f[sep + 2])));
    }
    return new KernelMounts(out);
  }

  public List<Mount> all() {
    return mounts;
  }

  /** The topmost mount at exactly {@code path}, if any. */
  public Optional<Mount> at(Path path) {
    String p = path.toAbsolutePath().normalize().toString();
    Mount found = null;
    for (Mount m : mounts) {
      if (m.mountPoint().equals(p)) {
        found = m; // later lines are mounted on top of earlier ones
      }
    }
    return Optional.ofNullable(found);
  }

  public boolean isMountPoint(Path path) {
    return at(path).isPresent();
  }

  /** Mounts whose source is {@code device}. */
  public List<Mount> ofSource(String device) {
    List<Mount> out = new ArrayList<>();
    for (Mount m : mounts) {
      if (m.source().equals(device)) {
        out.add(m);
      }
    }
    return out;
  }

  /** Mounts at or below {@code dir}. */
  public List<Mount> under(Path dir) {
    String d = dir.toAbsolutePath().normalize().toString();
    List<Mount> out = new ArrayList<>();
    for (Mount m : mounts) {
      if (m.mountPoint().equals(d) || m.mountPoint().startsWith(d.endsWith("/") ? d : d + "/")) {
        out.add(m);
      }
    }
    return out;
  }

  /** Decodes mountinfo's octal escapes (\040 for space, \011, \012, \134). */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
