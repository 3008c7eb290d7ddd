package org.dvdi.spi;

import java.util.Map;

/**
 * A volume dvdi has attached or mounted on this host, as recorded in its durable state:
 * what a provider gets back to unmount or detach it, also after an agent restart.
 *
 * @param name the volume's name
 * @param options the options it was mounted with
 * @param hostPath where it was mounted (may be empty if mounting never finished)
 * @param device its block device, or empty
 * @param providerData what the provider returned from attach and mount
 */
public record VolumeHandle(
    String name, VolumeOptions options, String hostPath, String device, Map<String, String> providerData) {
  public VolumeHandle {
    options = options == null ? VolumeOptions.EMPTY : options;
    hostPath = hostPath == null ? "" : hostPath;
    device = device == null ? "" : device;
    providerData = providerData == null ? Map.of() : Map.copyOf(providerData);
  }
}
