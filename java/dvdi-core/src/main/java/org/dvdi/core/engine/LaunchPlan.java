package org.dvdi.core.engine;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.state.VolumeKey;

/**
 * Where each volume of a request is bound, decided by {@link LaunchPlanner#plan} before any
 * provider call.
 *
 * @param request the request
 * @param targets for each volume, in request order
 */
public record LaunchPlan(PrepareRequest request, Map<VolumeKey, Target> targets) {
  public LaunchPlan {
    targets = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(targets));
  }

  /**
   * A run of directories dvdi walks, component by component, never following a link.
   *
   * @param from a directory Mesos made (the sandbox, the image's root) or "/": not checked itself
   * @param to the last directory of the run, below {@code from}
   * @param missing what happens to a component that does not exist
   */
  public record Chain(Path from, Path to, Missing missing) {}

  /** What a missing component of a chain means. */
  public enum Missing {
    /** dvdi creates it (below the sandbox, an image's root, or the host's /tmp). */
    CREATE,
    /** an error (a host directory outside /tmp: the operator creates it). */
    REFUSE,
    /** Mesos makes it (the sandbox mount point inside an image): left alone. */
    MESOS_MAKES
  }

  /**
   * One volume's bind.
   *
   * @param volume the request
   * @param bindTarget where Mesos binds the volume, as the launcher sees it; "" for no bind
   * @param chains what dvdi checks and creates for it (empty for no bind)
   */
  public record Target(VolumeRequest volume, String bindTarget, List<Chain> chains) {
    public Target {
      chains = List.copyOf(chains);
    }
  }

  /** The bind target of volume {@code key} ("" for none). */
  public String bindTarget(VolumeKey key) {
    return targets.get(key).bindTarget();
  }

  /** Every volume's bind target ("" for none), in request order. */
  public Map<VolumeKey, String> bindTargets() {
    Map<VolumeKey, String> out = new LinkedHashMap<>();
    targets.forEach((k, t) -> out.put(k, t.bindTarget()));
    return out;
  }


}
