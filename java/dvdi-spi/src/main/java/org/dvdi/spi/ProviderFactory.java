package org.dvdi.spi;

/**
 * Makes providers; found with {@link java.util.ServiceLoader}. A factory serves the driver
 * name {@link #getName()}; the one factory that says {@link #servesAnyDriver()} (the Docker
 * volume plugin provider) also serves every driver name no other factory claims, so that
 * {@code DVDI_VOLUME_DRIVER=rexray} reaches the plugin called {@code rexray}.
 */
public interface ProviderFactory {
  /** The provider type, e.g. "loop", "ebs", "dvdcli", "plugin". */
  String getName();

  /** True for the factory that serves driver names no other factory claims. */
  default boolean servesAnyDriver() {
    return false;
  }

  /**
   * Makes the provider for {@code driver}. Reads its settings from {@code context}; a bad
   * setting fails with INVALID_CONFIG naming the key.
   */
  VolumeProvider create(String driver, ProviderContext context);
}
