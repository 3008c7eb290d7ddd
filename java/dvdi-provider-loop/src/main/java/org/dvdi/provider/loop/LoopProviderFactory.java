package org.dvdi.provider.loop;

import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeProvider;

/** Makes {@link LoopProvider}s: driver name "loop" (and any driver mapped to type "loop"). */
public final class LoopProviderFactory implements ProviderFactory {
  public static final String NAME = "loop";

  @Override
  public String getName() {
    return NAME;
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext context) {
    return new LoopProvider(driver, context);
  }
}
