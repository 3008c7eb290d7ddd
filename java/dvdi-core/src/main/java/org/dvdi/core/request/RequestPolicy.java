package org.dvdi.core.request;

import java.nio.file.Path;
import java.util.Set;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.config.HostTrees;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.BlockVolumes;

/**
 * The operator's rules for requests, beyond the grammar: which options a task may use and
 * which host directories a container without an image may cover. Pure: reads no file.
 */
public final class RequestPolicy {
  /**
   * Options that act once, on the call that asks for them, and are never stored for a later
   * remount (recovery must not wipe a volume again): {@code overwritefs}.
   */
  public static final Set<String> ONE_SHOT_OPTIONS = Set.of(BlockVolumes.OPT_OVERWRITEFS);

  private final boolean allowOverwritefs;
  private final HostTrees hostTrees;

  public RequestPolicy(DvdiConfig config) {
    this.allowOverwritefs = config.allowOverwritefs();
    this.hostTrees = config.hostTrees();
  }

  /** {@code options} without the one-shot options: what the engine may store. */
  public static VolumeOptions storable(VolumeOptions options) {
    return options.without(ONE_SHOT_OPTIONS);
  }

  /** Fails with INVALID_REQUEST, naming the field, the value and the rule, for the first volume that breaks one. */
  public void check(PrepareRequest req) {
    for (VolumeRequest v : req.volumes()) {
      if (!allowOverwritefs && v.options().getBoolean(BlockVolumes.OPT_OVERWRITEFS, false)) {
        throw DvdiException.invalid(v.options().origin() + " option '" + BlockVolumes.OPT_OVERWRITEFS
            + "' is 'true': it destroys the volume's data, and this agent does not allow it (setting "
            + DvdiConfig.ALLOW_OVERWRITEFS + " is false)");
      }
      if (req.rootfs() == null && v.containerPath().startsWith("/")) {
        checkHostPath(v);
      }
    }
  }

  /** An absolute container path of a container without an image is a host directory. */
  private void checkHostPath(VolumeRequest v) {
    Path p = Path.of(v.containerPath());
    String what = v.pathSource() + " is '" + Grammar.printable(v.containerPath()) + "'";
    if (!hostTrees.underPrefix(p)) {
      throw DvdiException.invalid(what + ": the container has no image, so this is the host's directory, which "
          + "must be under one of " + DvdiConfig.CONTAINER_PATH_PREFIXES + " (" + prefixes()
          + "); use a relative path (inside the sandbox) or ask the operator");
    }
    String covered = hostTrees.covered(p);
    if (covered != null) {
      throw DvdiException.invalid(what + ": the container has no image, so this is the host's directory, and a "
          + "volume may not cover " + covered + " nor a directory holding it; use a relative path (inside the sandbox)");
    }
  }

  private String prefixes() {
    if (hostTrees.prefixes().isEmpty()) {
      return "none";
    }
    StringBuilder b = new StringBuilder();
    for (Path x : hostTrees.prefixes()) {
      b.append(b.length() == 0 ? "" : ",").append(x);
    }
    return b.toString();
  }
}
