package org.dvdi.provider.ebs;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.Settings;
import org.dvdi.spi.Sizes;

/**
 * The EBS provider's settings ({@code providers.ebs.*}), read and checked once when the
 * provider is made. Nothing here talks to AWS: region, zone and instance id left unset are
 * learnt from the instance metadata service on first use.
 *
 * <p>The optional static credentials are kept only to hand them to the SDK; they never
 * appear in {@link #toString()}, in logs or in error messages (a bad value is reported by
 * its key alone).
 */
final class EbsConfig {
  static final String REGION = "region";
  static final String AVAILABILITY_ZONE = "availability-zone";
  static final String INSTANCE_ID = "instance-id";
  /** The EC2 API endpoint, e.g. a moto server or a VPC endpoint; default: the region's. */
  static final String ENDPOINT = "endpoint";
  static final String IMDS_ENDPOINT = "imds-endpoint";
  static final String IMDS_TIMEOUT = "imds-timeout";
  static final String ACCESS_KEY_ID = "access-key-id";
  static final String SECRET_ACCESS_KEY = "secret-access-key";
  static final String PREEMPT = "preempt";
  /** Also use volumes that carry the Name tag but not dvdi's tag (e.g. made by REX-Ray). */
  static final String ADOPT_UNMANAGED = "adopt-unmanaged";
  static final String DEFAULT_SIZE = "default-size";
  static final String DEFAULT_TYPE = "default-type";
  static final String DEVICE_RANGE = "device-range";
  static final String POLL_INITIAL = "poll-initial";
  static final String POLL_MAX = "poll-max";
  static final String MAX_ATTEMPTS = "max-attempts";
  static final String ATTEMPT_TIMEOUT = "attempt-timeout";
  /** Where attached volumes are looked for; tests point these at a directory of their own. */
  static final String DEV_DIR = "dev-dir";
  static final String SYS_BLOCK_DIR = "sys-block-dir";
  static final String BY_ID_DIR = "by-id-dir";
  /** Make the EC2 client in the background when the provider is made (see EbsProvider#prewarm). */
  static final String PREWARM = "prewarm";

  static final Set<String> KEYS = Set.of(REGION, AVAILABILITY_ZONE, INSTANCE_ID, ENDPOINT, IMDS_ENDPOINT,
      IMDS_TIMEOUT, ACCESS_KEY_ID, SECRET_ACCESS_KEY, PREEMPT, ADOPT_UNMANAGED, DEFAULT_SIZE, DEFAULT_TYPE,
      DEVICE_RANGE, POLL_INITIAL, POLL_MAX, MAX_ATTEMPTS, ATTEMPT_TIMEOUT, DEV_DIR, SYS_BLOCK_DIR, BY_ID_DIR, PREWARM);

  static final String DEFAULT_IMDS = "http://169.254.169.254";
  /** REX-Ray's default volume size. */
  static final long DEFAULT_SIZE_BYTES = 16 * Sizes.GIB;
  static final String DEFAULT_DEVICE_RANGE = "/dev/xvdf-/dev/xvdp";

  private static final Pattern RANGE = Pattern.compile("(/dev/(?:xvd|sd))([a-z])-(/dev/(?:xvd|sd))([a-z])");
  private static final Pattern REGION_NAME = Pattern.compile("[a-z]{2}(-[a-z]+)+-[0-9]{1,2}");
  private static final Pattern ZONE_NAME = Pattern.compile("[a-z]{2}(-[a-z0-9]+)+-[0-9]{1,2}[a-z]");
  private static final Pattern INSTANCE = Pattern.compile("i-[0-9a-f]{8,17}");
  private static final Pattern ACCESS_KEY = Pattern.compile("[A-Z0-9]{16,128}");

  final Optional<String> region;
  final Optional<String> availabilityZone;
  final Optional<String> instanceId;
  final Optional<URI> endpoint;
  final URI imdsEndpoint;
  final Duration imdsTimeout;
  final boolean preempt;
  final boolean adoptUnmanaged;
  final long defaultSizeBytes;
  final String defaultType;
  /** Device names offered to AttachVolume: {@code devicePrefix} plus a letter in range. */
  final String devicePrefix;
  final char firstLetter;
  final char lastLetter;
  final Duration pollInitial;
  final Duration pollMax;
  final int maxAttempts;
  final Duration attemptTimeout;
  final Path devDir;
  final Path sysBlockDir;
  final Path byIdDir;
  final boolean prewarm;
  private final String accessKeyId;
  private final String secretAccessKey;

  EbsConfig(Settings s) {
    s.requireOnly(KEYS);
    region = checked(s, REGION, REGION_NAME, "must be an AWS region name like us-east-1");
    availabilityZone = checked(s, AVAILABILITY_ZONE, ZONE_NAME, "must be an availability zone name like us-east-1a");
    instanceId = checked(s, INSTANCE_ID, INSTANCE, "must be an EC2 instance id like i-0123456789abcdef0");
    endpoint = s.get(ENDPOINT).map(v -> uri(s, ENDPOINT, v));
    imdsEndpoint = uri(s, IMDS_ENDPOINT, s.getString(IMDS_ENDPOINT, DEFAULT_IMDS));
    imdsTimeout = s.getDuration(IMDS_TIMEOUT, Duration.ofSeconds(2));
    preempt = s.getBoolean(PREEMPT, false);
    adoptUnmanaged = s.getBoolean(ADOPT_UNMANAGED, false);
    defaultSizeBytes = s.getSize(DEFAULT_SIZE, DEFAULT_SIZE_BYTES);
    if (defaultSizeBytes < Sizes.GIB || defaultSizeBytes % Sizes.GIB != 0) {
      throw s.bad(DEFAULT_SIZE, Sizes.format(defaultSizeBytes), "must be a whole number of GiB, at least 1 (EBS sizes are whole GiB)");
    }
    defaultType = s.getString(DEFAULT_TYPE, VolumeTypes.GP3);
    if (VolumeTypes.of(defaultType).isEmpty()) {
      throw s.bad(DEFAULT_TYPE, defaultType, "must be one of " + VolumeTypes.NAMES);
    }
    String range = s.getString(DEVICE_RANGE, DEFAULT_DEVICE_RANGE);
    Matcher m = RANGE.matcher(range);
    if (!m.matches() || !m.group(1).equals(m.group(3)) || m.group(2).charAt(0) > m.group(4).charAt(0)
        || m.group(2).charAt(0) < 'b') {
      throw s.bad(DEVICE_RANGE, range, "must be a range of device names with one prefix, like /dev/xvdf-/dev/xvdp or"
          + " /dev/sdf-/dev/sdp (never /dev/sda or /dev/xvda: that is the root device)");
    }
    devicePrefix = m.group(1);
    firstLetter = m.group(2).charAt(0);
    lastLetter = m.group(4).charAt(0);
    pollInitial = s.getDuration(POLL_INITIAL, Duration.ofMillis(250));
    pollMax = s.getDuration(POLL_MAX, Duration.ofSeconds(4));
    if (pollMax.compareTo(pollInitial) < 0) {
      throw s.bad(POLL_MAX, s.getString(POLL_MAX, ""), "must be at least " + POLL_INITIAL + " (" + pollInitial.toMillis() + " ms)");
    }
    maxAttempts = s.getInt(MAX_ATTEMPTS, 5, 1, 20);
    attemptTimeout = s.getDuration(ATTEMPT_TIMEOUT, Duration.ofSeconds(20));
    devDir = s.getPath(DEV_DIR, "/dev");
    sysBlockDir = s.getPath(SYS_BLOCK_DIR, "/sys/block");
    byIdDir = s.getPath(BY_ID_DIR, "/dev/disk/by-id");
    prewarm = s.getBoolean(PREWARM, true);
    // Credentials: both or neither. Errors name the key, never the value.
    Optional<String> id = s.get(ACCESS_KEY_ID);
    Optional<String> secret = s.get(SECRET_ACCESS_KEY);
    if (id.isPresent() != secret.isPresent()) {
      throw DvdiException.config("setting '" + (id.isPresent() ? SECRET_ACCESS_KEY : ACCESS_KEY_ID) + "' ("
          + s.source() + ") is missing: " + ACCESS_KEY_ID + " and " + SECRET_ACCESS_KEY
          + " go together (leave both unset to use the SDK's default credential chain)");
    }
    if (id.isPresent() && !ACCESS_KEY.matcher(id.get()).matches()) {
      throw DvdiException.config("setting '" + ACCESS_KEY_ID + "' (" + s.source()
          + ") is not an AWS access key id (16 to 128 capital letters and digits); value not shown");
    }
    accessKeyId = id.orElse(null);
    secretAccessKey = secret.orElse(null);
  }

  /** The static credentials from the settings, if any: access key id and secret. */
  Optional<String[]> staticCredentials() {
    return accessKeyId == null ? Optional.empty() : Optional.of(new String[] {accessKeyId, secretAccessKey});
  }

  /** The device name for {@code letter}, e.g. /dev/xvdf. */
  String deviceName(char letter) {
    return devicePrefix + letter;
  }

  private static Optional<String> checked(Settings s, String key, Pattern p, String rule) {
    Optional<String> v = s.get(key);
    if (v.isPresent() && !p.matcher(v.get()).matches()) {
      throw s.bad(key, v.get(), rule);
    }
    return v;
  }

  private static URI uri(Settings s, String key, String v) {
    try {
      URI u = new URI(v);
      if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null) {
        throw new URISyntaxException(v, "not an http(s) URL with a host");
      }
      return u;
    } catch (URISyntaxException e) {
      throw s.bad(key, v, "must be an http:// or https:// URL");
    }
  }

  @Override
  public String toString() {
    return "ebs settings {region=" + region.orElse("(metadata)") + ", availability-zone="
        + availabilityZone.orElse("(metadata)") + ", instance-id=" + instanceId.orElse("(metadata)")
        + ", endpoint=" + endpoint.map(URI::toString).orElse("(region default)")
        + ", credentials=" + (accessKeyId == null ? "SDK default chain" : "static (from settings)")
        + ", preempt=" + preempt + ", default-type=" + defaultType + ", default-size=" + Sizes.format(defaultSizeBytes)
        + ", device-range=" + deviceName(firstLetter) + "-" + deviceName(lastLetter) + "}";
  }
}
