package org.dvdi.core.engine;

import java.util.List;
import java.util.Map;
import org.dvdi.core.state.VolumeKey;

/** What the manager's operations return. */
public final class Results {
  private Results() {}

  /** A bind mount into the container: {@code source} (host path) at {@code target} (host view). */
  public record Bind(String source, String target, boolean readOnly) {}

  /** One volume of a prepared container. */
  public record PreparedVolume(VolumeKey key, String hostPath, String target, boolean readOnly, boolean fastPath) {}

  /**
   * A prepared container: the binds, environment to add, and per-volume facts. Empty
   * {@code volumes} means the container asked for none (no launch info at all).
   */
  public record PrepareResult(String containerId, List<Bind> binds, Map<String, String> environment,
      List<PreparedVolume> volumes) {
    public boolean hasVolumes() {
      return !volumes.isEmpty();
    }
  }

  /** A cleaned-up container: volumes released, and releases that failed (retried later). */
  public record CleanupResult(String containerId, boolean known, List<VolumeKey> released, List<String> failures) {}

  /** What recovery did. */
  public record RecoverResult(List<String> keptContainers, List<String> releasedContainers, List<VolumeKey> keptVolumes,
      List<VolumeKey> releasedVolumes, List<VolumeKey> adoptedVolumes, List<String> problems) {}
}
