package org.dvdi.provider.ebs;

import static org.dvdi.provider.ebs.TestSupport.opts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.VolumeOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The request options' rules, per AWS's documented limits; no AWS needed. */
class EbsOptionsTest {
  private static EbsOptions parse(VolumeOptions o) {
    return EbsOptions.parse("ebs", "web", o, 16 * Sizes.GIB, "gp3");
  }

  @Test
  void defaultsAreGp3AndTheDefaultSize() {
    EbsOptions o = parse(VolumeOptions.EMPTY);
    assertEquals(new EbsOptions(16, "gp3", 0, 0, false, Optional.empty()), o);
  }

  @Test
  void aBareSizeIsGiBAndUnitsWork() {
    assertEquals(5, parse(opts("size", "5")).sizeGiB());
    assertEquals(2, parse(opts("size", "2GiB")).sizeGiB());
    assertEquals(1024, parse(opts("size", "1T")).sizeGiB());
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', value = {
      // options                                  | the message names
      "size=0                                       | 'size' of EBS volume 'web' is '0': a gp3 volume is 1 to 65536 GiB",
      "size=1536MiB                                 | EBS sizes are whole GiB (write e.g. size=2)",
      "size=lots                                    | option 'size' is 'lots'",
      "size=3,volumetype=io1,iops=100               | a io1 volume is 4 to 16384 GiB",
      "size=100,volumetype=st1                      | a st1 volume is 125 to 16384 GiB",
      "volumetype=gp4                               | 'volumetype' of EBS volume 'web' is 'gp4': must be one of [gp2, gp3, io1, io2, st1, sc1]",
      "volumetype=gp2,iops=300                      | volumetype gp2 has no provisioned IOPS",
      "volumetype=io1                               | volumetype io1 needs iops, 100 to 64000",
      "volumetype=io2,iops=0                        | volumetype io2 needs iops",
      "volumetype=io1,iops=50                       | volumetype io1 takes 100 to 64000 IOPS",
      "size=10,volumetype=io1,iops=1000             | at most 50 IOPS per GiB: 10 GiB allows 500 (make it at least 20 GiB)",
      "size=4,volumetype=gp3,iops=4000              | at most 500 IOPS per GiB",
      "volumetype=gp3,iops=2000                     | volumetype gp3 takes 3000 to 80000 IOPS",
      "volumetype=gp2,throughput=250                | only gp3 volumes take a throughput",
      "throughput=100                               | gp3 throughput is 125 to 2000 MiB/s",
      "throughput=1000                              | 3000 IOPS allow 750 MiB/s (raise iops to at least 4000)",
      "iops=-5                                      | option 'iops' is '-5': must be a whole number >= 0",
      "encrypted=maybe                              | option 'encrypted' is 'maybe': must be true or false",
      "kmskeyid=alias/x,encrypted=false             | a kmskeyid is only used to encrypt",
      "kmskeyid=a b                                 | must be a KMS key id, alias (alias/name) or ARN",
      "sise=5                                       | unknown option 'sise' for driver 'ebs'",
  })
  void badOptionsAreRefusedNamingOptionAndRule(String kv, String expected) {
    String[] pairs = kv.strip().split(",");
    java.util.LinkedHashMap<String, String> m = new java.util.LinkedHashMap<>();
    for (String p : pairs) {
      String[] x = p.split("=", 2);
      m.put(x[0], x[1]);
    }
    DvdiException e = assertThrows(DvdiException.class, () -> parse(new VolumeOptions(m, "DVDI_VOLUME_OPTS")));
    assertEquals(ErrorCode.INVALID_REQUEST, e.getCode(), e.getMessage());
    assertTrue(e.getMessage().contains(expected.strip()), "message: " + e.getMessage());
  }

  @Test
  void goodCombinations() {
    assertEquals(new EbsOptions(10, "io1", 500, 0, false, Optional.empty()),
        parse(opts("size", "10", "volumetype", "io1", "iops", "500")));
    assertEquals(new EbsOptions(8, "gp3", 4000, 1000, false, Optional.empty()),
        parse(opts("size", "8", "iops", "4000", "throughput", "1000")));
    // gp3 baseline IOPS are allowed on the smallest volume; iops=0 means "not given" (REX-Ray).
    assertEquals(3000, parse(opts("size", "1", "iops", "3000")).iops());
    assertEquals(0, parse(opts("volumetype", "gp2", "iops", "0")).iops());
    assertEquals(new EbsOptions(200, "st1", 0, 0, false, Optional.empty()),
        parse(opts("size", "200", "volumetype", "st1")));
    // A KMS key implies encryption.
    EbsOptions k = parse(opts("kmskeyid", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"));
    assertTrue(k.encrypted());
    assertFalse(parse(opts("encrypted", "false")).encrypted());
    // The block layer's options are accepted too.
    parse(opts("newfstype", "xfs", "overwritefs", "true"));
  }
}
