package org.dvdi.core.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.spi.DvdiException;

/**
 * Where each volume is bound, in the host's view of the container's filesystem, following
 * Mesos's docker/volume isolator: a relative container path is inside the sandbox; an
 * absolute one is inside the image's rootfs when the container has one, else it is the
 * host path itself, which must exist (mesos-module-dvdi created it only under /tmp/).
 */
final class LaunchPlanner {
  static final Path HOST_TMP = Path.of("/tmp");

  private LaunchPlanner() {}

  /** The bind target for {@code v} ("" for none); checks what can be checked before any mount. */
  static String target(PrepareRequest req, VolumeRequest v) {
    String cp = v.containerPath();
    if (cp.isEmpty()) {
      return "";
    }
    if (!cp.startsWith("/")) {
      if (req.sandbox() == null) {
        throw DvdiException.invalid(v.source() + ": container path '" + cp
            + "' is relative (inside the sandbox) but the container has no sandbox directory");
      }
      return req.sandbox().resolve(cp).toString();
    }
    if (req.rootfs() != null) {
      return req.rootfs().resolve(cp.substring(1)).toString();
    }
    Path p = Path.of(cp);
    if (!Files.isDirectory(p) && !p.startsWith(HOST_TMP)) {
      throw DvdiException.invalid(v.source() + ": container path '" + cp + "' does not exist on this host and the "
          + "container has no image: create it on the agents, use a path under /tmp/, or a relative path (inside the sandbox)");
    }
    return cp;
  }

  /**
   * Creates the target directory of a bind: below the sandbox, the rootfs or /tmp, creating
   * missing components one by one and refusing any component that is a symbolic link (a
   * task must not steer a root-owned mkdir or bind elsewhere).
   */
  static void createTarget(PrepareRequest req, VolumeRequest v, String target) {
    if (target.isEmpty()) {
      return;
    }
    Path t = Path.of(target);
    Path base;
    if (!v.containerPath().startsWith("/")) {
      base = req.sandbox();
    } else if (req.rootfs() != null) {
      base = req.rootfs();
    } else if (t.startsWith(HOST_TMP)) {
      base = HOST_TMP;
    } else {
      if (!Files.isDirectory(t)) {
        throw DvdiException.invalid(v.source() + ": container path '" + target + "' does not exist on this host");
      }
      return;
    }
    Path cur = base;
    for (Path part : base.relativize(t)) {
      cur = cur.resolve(part);
      if (Files.isSymbolicLink(cur)) {
        throw DvdiException.invalid(v.source() + ": container path '" + v.containerPath() + "' runs through a symbolic link ("
            + cur + "); refusing to follow it");
      }
      if (Files.isDirectory(cur, LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      if (Files.exists(cur, LinkOption.NOFOLLOW_LINKS)) {
        throw DvdiException.invalid(v.source() + ": container path '" + v.containerPath() + "': " + cur + " is not a directory");
      }
      try {
        Files.createDirectory(cur);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        if (!Files.isDirectory(cur, LinkOption.NOFOLLOW_LINKS)) {
          throw DvdiException.invalid(v.source() + ": " + cur + " appeared as a non-directory");
        }
      } catch (IOException e) {
        throw DvdiException.provider("cannot create container path " + cur + ": " + e.getMessage(), e);
      }
    }
  }
}
