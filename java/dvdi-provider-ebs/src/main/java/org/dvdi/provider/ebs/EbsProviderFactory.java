package org.dvdi.provider.ebs;

import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeProvider;

/**
 * Makes {@link EbsProvider}s: driver name "ebs" (and any driver mapped to type "ebs"). Only
 * reads the settings: the EC2 client and the instance metadata are left to the first call.
 */
public final class EbsProviderFactory implements ProviderFactory {
  public static final String NAME = "ebs";

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext context) {
    return new EbsProvider(driver, context, Ec2Api.Hooks.NONE);
  }
}
