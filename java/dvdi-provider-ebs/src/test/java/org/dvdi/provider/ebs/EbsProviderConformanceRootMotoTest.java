package org.dvdi.provider.ebs;

import java.util.Map;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.testing.ProviderConformance;
import org.dvdi.spi.testing.RequiresRoot;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The EBS provider against the shared conformance suite: EC2 is moto, the attached volumes
 * are real loop devices found through the provider's own NVMe discovery, formatted and
 * mounted by the shared block layer.
 */
@RequiresRoot
@ExtendWith(MotoServer.class)
class EbsProviderConformanceRootMotoTest extends ProviderConformance {
  @RegisterExtension
  static final Ec2Fixture.PerClass EC2 = new Ec2Fixture.PerClass(FakeHypervisor.Backing.LOOP);

  @Override
  protected VolumeProvider provider() {
    return EC2.provider();
  }

  @Override
  protected VolumeOptions smallVolume() {
    return new VolumeOptions(Map.of("size", "1", "volumetype", "gp3"), "test");
  }
}
