package org.dvdi.provider.dvdcli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.dvdi.provider.plugin.TestContexts;
import org.dvdi.spi.VolumeProvider;

/**
 * A fake dvdcli for tests: a small sh script that records its exact argument vector (one
 * argument a line) and behaves like dvdcli 0.2 in front of a plugin keeping volumes as
 * directories: mount creates a missing volume (or, with --explicitcreate, fails as dvdcli does,
 * a logrus line on stderr), prints the directory and records it as mounted; unmount, path,
 * create and remove as dvdcli; an unknown driver is "plugin not found". Marker files switch
 * faults: {@code sleep} (sleeps 30 s, writing its pid first), {@code fail} (exits 1 with a
 * message on stderr), {@code nopath} (mount prints no path).
 */
public final class FakeDvdcli {
  private static final String SCRIPT = """
      #!/bin/sh
      # fake dvdcli (dvdi tests)
      state='@STATE@'
      printf '%s\\n' "$@" > "$state/argv"
      echo "$1" >> "$state/calls"
      if [ -e "$state/sleep" ]; then echo $$ > "$state/pid"; exec sleep 30; fi
      if [ -e "$state/fail" ]; then
        echo 'time="2024-05-01T10:00:00Z" level=error msg="backend exploded: quota exceeded"' >&2; exit 1
      fi
      cmd=$1; shift
      driver=; name=; explicit=
      for a in "$@"; do
        case "$a" in
          --volumedriver=*) driver=${a#--volumedriver=} ;;
          --volumename=*) name=${a#--volumename=} ;;
          --volumeopts=*) ;;
          --explicitcreate) explicit=1 ;;
          *) echo "Error: unknown flag: $a" >&2; exit 1 ;;
        esac
      done
      if [ "$driver" != '@DRIVER@' ]; then
        echo "time=\\"2024-05-01T10:00:00Z\\" level=info msg=\\"plugin not found\\" volumeDriver=$driver" >&2; exit 1
      fi
      vol="$state/volumes/$name"
      mnt="$state/mounted/$name"
      missing() {
        echo "time=\\"2024-05-01T10:00:00Z\\" level=error msg=\\"no such volume\\" volumeName=$name" >&2; exit 1
      }
      case "$cmd" in
        create) mkdir -p "$vol" ;;
        mount)
          if [ ! -d "$vol" ]; then
            if [ -n "$explicit" ]; then missing; fi
            mkdir -p "$vol"
          fi
          : > "$mnt"
          echo "time=\\"2024-05-01T10:00:00Z\\" level=info msg=\\"$vol\\"" >&2
          if [ ! -e "$state/nopath" ]; then echo "$vol"; echo; fi ;;
        unmount) [ -d "$vol" ] || missing; rm -f "$mnt" ;;
        path) [ -d "$vol" ] || missing; echo "$vol" ;;
        remove)
          [ -d "$vol" ] || missing
          if [ -e "$mnt" ]; then
            echo "time=\\"2024-05-01T10:00:00Z\\" level=error msg=\\"remove $name: volume is in use\\" volumeName=$name" >&2; exit 1
          fi
          rm -rf "$vol" ;;
        *) echo "Error: unknown command \\"$cmd\\" for \\"dvdcli\\"" >&2; exit 1 ;;
      esac
      """;

  final Path state;
  final Path binary;

  private FakeDvdcli(Path state, Path binary) {
    this.state = state;
    this.binary = binary;
  }

  /** Writes the fake into {@code dir}; it answers for volume driver {@code driver} only. */
  public static FakeDvdcli install(Path dir, String driver) throws IOException {
    Path state = dir.resolve("state");
    Files.createDirectories(state.resolve("volumes"));
    Files.createDirectories(state.resolve("mounted"));
    Path bin = dir.resolve("bin/dvdcli");
    Files.createDirectories(bin.getParent());
    Files.writeString(bin, SCRIPT.replace("@STATE@", state.toString()).replace("@DRIVER@", driver));
    Files.setPosixFilePermissions(bin, PosixFilePermissions.fromString("rwxr-xr-x"));
    return new FakeDvdcli(state, bin);
  }

  public VolumeProvider provider(String driver) {
    return new DvdcliProviderFactory().create(driver, TestContexts.of(Map.of(DvdcliProvider.SET_PATH, binary.toString())));
  }

  /** The argument vector of the last run, argv[0] excluded. */
  List<String> argv() throws IOException {
    return Files.readAllLines(state.resolve("argv"));
  }

  /** How many times it ran. */
  int runs() throws IOException {
    Path calls = state.resolve("calls");
    return Files.exists(calls) ? Files.readAllLines(calls).size() : 0;
  }

  void fault(String marker, boolean on) throws IOException {
    if (on) {
      Files.writeString(state.resolve(marker), "");
    } else {
      Files.deleteIfExists(state.resolve(marker));
    }
  }

  public Path volumeDir(String name) {
    return state.resolve("volumes").resolve(name);
  }

  boolean mounted(String name) {
    return Files.exists(state.resolve("mounted").resolve(name));
  }

  long pid() throws IOException {
    return Long.parseLong(Files.readString(state.resolve("pid")).trim());
  }
}
