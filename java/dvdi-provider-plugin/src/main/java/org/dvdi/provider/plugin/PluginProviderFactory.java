package org.dvdi.provider.plugin;

import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeProvider;

/**
 * Makes {@link PluginProvider}s. Provider type "plugin"; it also serves every driver name no
 * other provider claims, so {@code DVDI_VOLUME_DRIVER=rexray} reaches the Docker volume plugin
 * called {@code rexray}.
 */
public final class PluginProviderFactory implements ProviderFactory {
  public static final String NAME = "plugin";

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public boolean servesAnyDriver() {
    return true;
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext context) {
    return new PluginProvider(driver, context);
  }
}
