package org.dvdi.core.request;

import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.VolumeOptions;

/**
 * One volume a container asks for, validated by the grammar.
 *
 * @param driver lower-cased driver name
 * @param name volume name
 * @param options provider options
 * @param containerPath normalised; absolute, relative to the sandbox, or "" for no bind
 * @param readOnly bind it read-only into the container
 * @param explicitCreate fail when the volume does not exist instead of creating it
 * @param source where the request came from, for errors ("DVDI_VOLUME_NAME2", "container_info.volumes[0]")
 * @param envSuffix the DVDI env suffix ("" or "1".."9"), or null for ContainerInfo volumes
 * @param pathSource the field that gave the container path, for errors about it
 *     ("DVDI_VOLUME_CONTAINERPATH2", "container_info.volumes[0].container_path")
 */
public record VolumeRequest(String driver, String name, VolumeOptions options, String containerPath,
    boolean readOnly, boolean explicitCreate, String source, String envSuffix, String pathSource) {
  /** A request whose container path has no field of its own (an operator's {@code dvdi mount}). */
  public VolumeRequest(String driver, String name, VolumeOptions options, String containerPath,
      boolean readOnly, boolean explicitCreate, String source, String envSuffix) {
    this(driver, name, options, containerPath, readOnly, explicitCreate, source, envSuffix, source);
  }

  public VolumeKey key() {
    return new VolumeKey(driver, name);
  }
}
