package org.dvdi.provider.ebs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.Settings;
import org.junit.jupiter.api.Test;

/** IMDSv2 against a local stand-in: token first, settings win, failures say what to set. */
class InstanceMetadataTest {
  private static EbsConfig config(String... kv) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return new EbsConfig(new Settings(m, "test"));
  }

  @Test
  void readsIdentityWithAToken() throws Exception {
    try (FakeImds imds = new FakeImds("eu-west-1", "eu-west-1b", "i-0123456789abcdef0")) {
      InstanceMetadata md = new InstanceMetadata(imds.endpoint(), Duration.ofSeconds(2));
      InstanceMetadata.Identity id = md.resolve(config(), TestSupport.ctx());
      assertEquals(new InstanceMetadata.Identity("eu-west-1", "eu-west-1b", "i-0123456789abcdef0"), id);
      assertEquals("PUT " + InstanceMetadata.TOKEN_PATH, imds.requests.get(0), "token first: " + imds.requests);
    }
  }

  @Test
  void settingsWinAndOnlyTheMissingIsAsked() throws Exception {
    try (FakeImds imds = new FakeImds("eu-west-1", "eu-west-1b", "i-0123456789abcdef0")) {
      InstanceMetadata md = new InstanceMetadata(imds.endpoint(), Duration.ofSeconds(2));
      InstanceMetadata.Identity id = md.resolve(config("instance-id", "i-00000000000000001"), TestSupport.ctx());
      assertEquals("i-00000000000000001", id.instanceId());
      assertEquals("eu-west-1b", id.availabilityZone());
      assertTrue(imds.requests.stream().noneMatch(r -> r.endsWith(InstanceMetadata.INSTANCE_PATH)), imds.requests.toString());
      imds.requests.clear();
      md.resolve(config("instance-id", "i-00000000000000001", "region", "eu-west-1", "availability-zone", "eu-west-1c"),
          TestSupport.ctx());
      assertEquals(List.of(), imds.requests, "fully configured: the metadata service is not asked");
    }
  }

  @Test
  void fallsBackToImdsV1AndDerivesTheRegionFromTheZone() throws Exception {
    try (FakeImds imds = new FakeImds("ignored", "ap-southeast-2c", "i-0123456789abcdef0")) {
      imds.tokenWorks = false;
      imds.v1Allowed = true;
      imds.values.remove(InstanceMetadata.REGION_PATH);
      InstanceMetadata.Identity id = new InstanceMetadata(imds.endpoint(), Duration.ofSeconds(2)).resolve(config(), TestSupport.ctx());
      assertEquals(new InstanceMetadata.Identity("ap-southeast-2", "ap-southeast-2c", "i-0123456789abcdef0"), id);
    }
  }

  @Test
  void unreachableOrSlowMetadataFailsFastSayingWhatToSet() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // closed again: nothing listens there
    }
    InstanceMetadata md = new InstanceMetadata(URI.create("http://127.0.0.1:" + port), Duration.ofMillis(500));
    DvdiException e = assertThrows(DvdiException.class, () -> md.resolve(config(), TestSupport.ctx()));
    assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
    assertTrue(e.getMessage().contains("providers.ebs.region"), e.getMessage());

    try (FakeImds slow = new FakeImds("eu-west-1", "eu-west-1b", "i-0123456789abcdef0")) {
      slow.delayMs = 1500;
      long start = System.nanoTime();
      DvdiException t = assertThrows(DvdiException.class,
          () -> new InstanceMetadata(slow.endpoint(), Duration.ofMillis(300)).resolve(config(), TestSupport.ctx()));
      long ms = (System.nanoTime() - start) / 1_000_000;
      assertTrue(ms < 2500, "short timeouts: " + ms + " ms");
      assertTrue(t.getMessage().contains("instance metadata service"), t.getMessage());
    }
  }

  @Test
  void withoutATokenImdsV2OnlyAnswers401AndThatIsSaid() throws Exception {
    try (FakeImds imds = new FakeImds("eu-west-1", "eu-west-1b", "i-0123456789abcdef0")) {
      imds.tokenWorks = false;
      DvdiException e = assertThrows(DvdiException.class,
          () -> new InstanceMetadata(imds.endpoint(), Duration.ofSeconds(1)).resolve(config(), TestSupport.ctx()));
      assertTrue(e.getMessage().contains("HTTP 401") && e.getMessage().contains("without an IMDSv2 token"), e.getMessage());
    }
  }
}
