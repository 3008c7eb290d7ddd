package org.dvdi.spi;

import java.util.Map;

/**
 * The outcome of {@link VolumeProvider#mount}: where the volume's data is on this host.
 *
 * @param hostPath the directory to bind into containers
 * @param device the block device, or empty for providers without one
 * @param providerData what the provider needs later to unmount and detach (device names,
 *     ids); dvdi stores it durably and hands it back. Never secrets.
 */
public record MountedVolume(String hostPath, String device, Map<String, String> providerData) {
  public MountedVolume {
    device = device == null ? "" : device;
    providerData = providerData == null ? Map.of() : Map.copyOf(providerData);
  }
}
