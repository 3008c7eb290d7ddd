package org.dvdi.core.request;

import java.nio.file.Path;
import java.util.List;

/**
 * A container's request.
 *
 * @param containerId the Mesos container id (nested ids joined with '.')
 * @param sandbox the container's sandbox directory (for relative container paths), or null
 * @param rootfs the container's image root filesystem, or null when it uses the host's
 * @param user the user the container runs as, or null
 * @param volumes what it asks for, validated
 */
public record PrepareRequest(String containerId, Path sandbox, Path rootfs, String user, List<VolumeRequest> volumes) {
  public PrepareRequest {
    volumes = List.copyOf(volumes);
  }
}
