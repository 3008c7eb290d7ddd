package org.dvdi.provider.ebs;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The EBS volume types dvdi creates and the limits AWS documents for each (EBS user guide,
 * "Amazon EBS volume types", as of 2025: gp3 up to 64 TiB, 80,000 IOPS and 2,000 MiB/s).
 * dvdi checks them before any call so that a bad request fails at once and says why; AWS
 * stays the final judge (limits only grow, and a value AWS refuses is reported with its words).
 */
final class VolumeTypes {
  static final String GP2 = "gp2";
  static final String GP3 = "gp3";
  static final String IO1 = "io1";
  static final String IO2 = "io2";
  static final String ST1 = "st1";
  static final String SC1 = "sc1";

  /**
   * One type's rules.
   *
   * @param minGiB smallest size
   * @param maxGiB largest size
   * @param iops whether provisioned IOPS may be given
   * @param iopsRequired whether they must be given
   * @param minIops smallest provisioned IOPS
   * @param maxIops largest provisioned IOPS
   * @param iopsPerGiB largest ratio of IOPS to size
   * @param freeIops IOPS allowed whatever the size (gp3's baseline), above which the ratio applies
   * @param throughput whether throughput (MiB/s) may be given
   */
  record Type(String name, int minGiB, int maxGiB, boolean iops, boolean iopsRequired, int minIops, int maxIops,
      int iopsPerGiB, int freeIops, boolean throughput) {}

  /** gp3 throughput: 125 to 2,000 MiB/s, at most 0.25 MiB/s per provisioned IOPS. */
  static final int GP3_MIN_THROUGHPUT = 125;
  static final int GP3_MAX_THROUGHPUT = 2000;
  static final int GP3_BASELINE_IOPS = 3000;

  private static final Map<String, Type> TYPES = Map.of(
      GP2, new Type(GP2, 1, 16384, false, false, 0, 0, 0, 0, false),
      GP3, new Type(GP3, 1, 65536, true, false, 3000, 80000, 500, GP3_BASELINE_IOPS, true),
      IO1, new Type(IO1, 4, 16384, true, true, 100, 64000, 50, 0, false),
      IO2, new Type(IO2, 4, 65536, true, true, 100, 256000, 1000, 0, false),
      ST1, new Type(ST1, 125, 16384, false, false, 0, 0, 0, 0, false),
      SC1, new Type(SC1, 125, 16384, false, false, 0, 0, 0, 0, false));

  static final List<String> NAMES = List.of(GP2, GP3, IO1, IO2, ST1, SC1);

  private VolumeTypes() {}

  static Optional<Type> of(String name) {
    return Optional.ofNullable(TYPES.get(name));
  }
}
