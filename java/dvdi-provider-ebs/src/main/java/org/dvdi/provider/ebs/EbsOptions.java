package org.dvdi.provider.ebs;

import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.BlockVolumes;

/**
 * A request's EBS options, checked against AWS's rules before anything is done: {@code size}
 * (a bare number is GiB, as REX-Ray's), {@code volumetype}, {@code iops} and
 * {@code throughput} (each only when greater than 0, as REX-Ray), {@code encrypted},
 * {@code kmskeyid}, plus the block layer's {@code newfstype} and {@code overwritefs}.
 * Only creation reads the EBS ones; an existing volume keeps what it has.
 *
 * @param sizeGiB size in GiB
 * @param type the volume type
 * @param iops provisioned IOPS, or 0 for the type's default
 * @param throughput provisioned throughput in MiB/s (gp3), or 0 for the default
 * @param encrypted whether to encrypt (also true when a KMS key is given)
 * @param kmsKeyId the KMS key, or empty for the account's default EBS key
 */
record EbsOptions(int sizeGiB, String type, int iops, int throughput, boolean encrypted, Optional<String> kmsKeyId) {
  static final String SIZE = "size";
  static final String VOLUMETYPE = "volumetype";
  static final String IOPS = "iops";
  static final String THROUGHPUT = "throughput";
  static final String ENCRYPTED = "encrypted";
  static final String KMSKEYID = "kmskeyid";

  static final Set<String> OPTIONS;

  static {
    Set<String> o = new HashSet<>(BlockVolumes.OPTIONS);
    o.addAll(Set.of(SIZE, VOLUMETYPE, IOPS, THROUGHPUT, ENCRYPTED, KMSKEYID));
    OPTIONS = Set.copyOf(o);
  }

  /** A KMS key id, alias or ARN (arn:aws:kms:region:account:key/id or alias/name). */
  private static final Pattern KMS_KEY = Pattern.compile("[A-Za-z0-9:/_.-]{1,2048}");

  /**
   * Reads and checks the options of volume {@code name}; throws INVALID_REQUEST naming the
   * option, the volume and the rule. Unknown options are refused as well.
   */
  static EbsOptions parse(String driver, String name, VolumeOptions o, long defaultSizeBytes, String defaultType) {
    o.requireOnly(OPTIONS, driver);
    String where = o.origin() + " option '%s' of EBS volume '" + name + "' is '%s': ";
    String typeName = o.get(VOLUMETYPE).orElse(defaultType);
    VolumeTypes.Type t = VolumeTypes.of(typeName).orElseThrow(() -> DvdiException.invalid(
        String.format(where, VOLUMETYPE, typeName) + "must be one of " + VolumeTypes.NAMES));

    long bytes = o.getSizeBytes(SIZE, defaultSizeBytes);
    String sizeText = o.get(SIZE).orElse(Sizes.format(bytes));
    if (bytes % Sizes.GIB != 0) {
      throw DvdiException.invalid(String.format(where, SIZE, sizeText)
          + "EBS sizes are whole GiB (write e.g. size=" + Math.max(1, (bytes + Sizes.GIB - 1) / Sizes.GIB) + ")");
    }
    long gib = bytes / Sizes.GIB;
    if (gib < t.minGiB() || gib > t.maxGiB()) {
      throw DvdiException.invalid(String.format(where, SIZE, sizeText) + "a " + t.name() + " volume is "
          + t.minGiB() + " to " + t.maxGiB() + " GiB");
    }

    long iops = o.getLong(IOPS, 0);
    if (iops > 0 && !t.iops()) {
      throw DvdiException.invalid(String.format(where, IOPS, iops) + "volumetype " + t.name()
          + " has no provisioned IOPS (use gp3, io1 or io2, or leave iops out)");
    }
    if (iops == 0 && t.iopsRequired()) {
      throw DvdiException.invalid(String.format(where, IOPS, o.get(IOPS).orElse("")) + "volumetype " + t.name()
          + " needs iops, " + t.minIops() + " to " + t.maxIops());
    }
    if (iops > 0) {
      if (iops < t.minIops() || iops > t.maxIops()) {
        throw DvdiException.invalid(String.format(where, IOPS, iops) + "volumetype " + t.name() + " takes "
            + t.minIops() + " to " + t.maxIops() + " IOPS");
      }
      if (iops > t.freeIops() && iops > gib * t.iopsPerGiB()) {
        throw DvdiException.invalid(String.format(where, IOPS, iops) + "a " + t.name() + " volume takes at most "
            + t.iopsPerGiB() + " IOPS per GiB: " + gib + " GiB allows " + Math.max(t.freeIops(), gib * t.iopsPerGiB())
            + " (make it at least " + ((iops + t.iopsPerGiB() - 1) / t.iopsPerGiB()) + " GiB)");
      }
    }

    long throughput = o.getLong(THROUGHPUT, 0);
    if (throughput > 0) {
      if (!t.throughput()) {
        throw DvdiException.invalid(String.format(where, THROUGHPUT, throughput) + "only gp3 volumes take a throughput"
            + " (volumetype is " + t.name() + ")");
      }
      if (throughput < VolumeTypes.GP3_MIN_THROUGHPUT || throughput > VolumeTypes.GP3_MAX_THROUGHPUT) {
        throw DvdiException.invalid(String.format(where, THROUGHPUT, throughput) + "gp3 throughput is "
            + VolumeTypes.GP3_MIN_THROUGHPUT + " to " + VolumeTypes.GP3_MAX_THROUGHPUT + " MiB/s");
      }
      long withIops = iops > 0 ? iops : VolumeTypes.GP3_BASELINE_IOPS;
      if (throughput > VolumeTypes.GP3_MIN_THROUGHPUT && throughput * 4 > withIops) {
        throw DvdiException.invalid(String.format(where, THROUGHPUT, throughput) + "gp3 allows at most 0.25 MiB/s per"
            + " IOPS: " + withIops + " IOPS allow " + withIops / 4 + " MiB/s (raise iops to at least " + throughput * 4 + ")");
      }
    }

    Optional<String> kms = o.get(KMSKEYID);
    if (kms.isPresent() && !KMS_KEY.matcher(kms.get()).matches()) {
      throw DvdiException.invalid(String.format(where, KMSKEYID, kms.get())
          + "must be a KMS key id, alias (alias/name) or ARN");
    }
    boolean encrypted = o.getBoolean(ENCRYPTED, kms.isPresent());
    if (kms.isPresent() && !encrypted) {
      throw DvdiException.invalid(String.format(where, ENCRYPTED, o.get(ENCRYPTED).orElse(""))
          + "a kmskeyid is only used to encrypt: leave encrypted out or set it to true");
    }
    return new EbsOptions((int) gib, t.name(), (int) iops, (int) throughput, encrypted, kms);
  }
}
