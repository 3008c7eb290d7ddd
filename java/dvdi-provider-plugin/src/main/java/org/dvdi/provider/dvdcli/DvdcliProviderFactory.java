package org.dvdi.provider.dvdcli;

import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeProvider;

/**
 * Makes {@link DvdcliProvider}s: provider type "dvdcli". It serves only drivers an operator maps
 * to it ({@code drivers.rexray = dvdcli}); the driver name is passed on as {@code --volumedriver}.
 */
public final class DvdcliProviderFactory implements ProviderFactory {
  public static final String NAME = "dvdcli";

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext context) {
    return new DvdcliProvider(driver, context);
  }
}
