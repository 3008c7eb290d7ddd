package org.dvdi.provider.ebs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.ServiceLoader;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings: checked at once, secrets never shown, nothing asked of AWS until first use. */
class EbsConfigTest {
  @TempDir
  Path tmp;

  private static EbsConfig config(String... kv) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return new EbsConfig(new Settings(m, "dvdi.conf"));
  }

  private static DvdiException bad(String... kv) {
    DvdiException e = assertThrows(DvdiException.class, () -> config(kv));
    assertEquals(ErrorCode.INVALID_CONFIG, e.getCode(), e.getMessage());
    return e;
  }

  @Test
  void defaults() {
    EbsConfig c = config();
    assertFalse(c.preempt);
    assertEquals("gp3", c.defaultType);
    assertEquals("/dev/xvdf", c.deviceName(c.firstLetter));
    assertEquals("/dev/xvdp", c.deviceName(c.lastLetter));
    assertEquals(Path.of("/dev/disk/by-id"), c.byIdDir);
    assertEquals("http://169.254.169.254", c.imdsEndpoint.toString());
    assertTrue(c.region.isEmpty() && c.availabilityZone.isEmpty() && c.instanceId.isEmpty());
  }

  @Test
  void badSettingsNameTheKey() {
    assertTrue(bad("regoin", "us-east-1").getMessage().contains("unknown setting 'regoin'"));
    assertTrue(bad("region", "US East").getMessage().contains("'region'"));
    assertTrue(bad("availability-zone", "us-east-1").getMessage().contains("'availability-zone'"));
    assertTrue(bad("instance-id", "web-1").getMessage().contains("'instance-id'"));
    assertTrue(bad("endpoint", "ftp://x").getMessage().contains("'endpoint'"));
    assertTrue(bad("default-type", "gp9").getMessage().contains("'default-type'"));
    assertTrue(bad("default-size", "512MiB").getMessage().contains("whole number of GiB"));
    assertTrue(bad("device-range", "/dev/xvda-/dev/xvdp").getMessage().contains("root device"));
    assertTrue(bad("device-range", "/dev/xvdf-/dev/sdp").getMessage().contains("'device-range'"));
    assertTrue(bad("device-range", "/dev/xvdp-/dev/xvdf").getMessage().contains("'device-range'"));
    assertTrue(bad("poll-initial", "5s", "poll-max", "1s").getMessage().contains("'poll-max'"));
    assertTrue(bad("preempt", "sometimes").getMessage().contains("'preempt'"));
    EbsConfig sd = config("device-range", "/dev/sdf-/dev/sdh");
    assertEquals("/dev/sdg", sd.deviceName('g'));
  }

  @Test
  void credentialsGoTogetherAndAreNeverShown() {
    String secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    DvdiException lone = bad("secret-access-key", secret);
    assertTrue(lone.getMessage().contains("'access-key-id'"), lone.getMessage());
    assertFalse(lone.getMessage().contains(secret));
    DvdiException shape = bad("access-key-id", "not a key " + secret, "secret-access-key", secret);
    assertFalse(shape.getMessage().contains(secret), shape.getMessage());
    EbsConfig c = config("access-key-id", "AKIAIOSFODNN7EXAMPLE", "secret-access-key", secret);
    assertFalse(c.toString().contains(secret), c.toString());
    assertFalse(c.toString().contains("AKIAIOSFODNN7EXAMPLE"), c.toString());
    assertTrue(c.toString().contains("static"), c.toString());
  }

  @Test
  void theFactoryIsFoundAsEbsAndMakesAProviderWithoutTouchingAws() {
    ProviderFactory f = ServiceLoader.load(ProviderFactory.class).stream().map(ServiceLoader.Provider::get)
        .filter(x -> x.getName().equals("ebs")).findFirst().orElseThrow();
    // The metadata endpoint is unreachable: making the provider must not notice (lazy).
    long start = System.nanoTime();
    try (VolumeProvider p = f.create("ebs", TestSupport.context(tmp, "agent", Map.of(
        "imds-endpoint", "http://127.0.0.1:9", "secret-access-key", "s3cr3t-value-x", "access-key-id", "AKIAIOSFODNN7EXAMPLE")))) {
      assertEquals("ebs", p.driver());
      assertTrue(p.capabilities().kernelMounts());
      assertTrue(p.capabilities().kernelMounts());
      assertFalse(p.toString().contains("s3cr3t-value-x"), p.toString());
      p.validate("web", TestSupport.opts("size", "5", "volumetype", "gp2"));
      DvdiException e = assertThrows(DvdiException.class, () -> p.validate("../etc", TestSupport.opts()));
      assertEquals(ErrorCode.INVALID_REQUEST, e.getCode());
    }
    assertTrue((System.nanoTime() - start) / 1_000_000 < 2000, "no AWS or metadata calls while making it");
  }
}
