package org.dvdi.provider.ebs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;
import org.dvdi.spi.testing.TmpDirs;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;

/**
 * A moto-backed EC2 for one test class: a raw client for setting the scene (instances,
 * volumes made behind dvdi's back, attachments to other instances), "this" instance with its
 * fake hypervisor, and providers wired to both plus the fault injector.
 */
final class Ec2Fixture implements AutoCloseable {
  static final String REGION = "us-east-1";
  static final String ZONE = "us-east-1a";
  static final String OTHER_ZONE = "us-east-1b";
  /** Example credentials (AWS's documentation values): moto accepts any. */
  static final String ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE";
  static final String SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

  final Ec2Client raw;
  final String instance;
  final FakeHypervisor hypervisor;
  final Faults faults = new Faults();
  final Path root;
  /** Every fake host: each sees every provider's calls, as EC2 acts on all instances. */
  private final List<FakeHypervisor> hosts = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final FakeHypervisor.Backing backing;

  Ec2Fixture(Path root, FakeHypervisor.Backing backing) throws Exception {
    this.root = root;
    this.raw = Ec2Client.builder().region(Region.of(REGION)).endpointOverride(MotoServer.endpoint())
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
        .httpClient(UrlConnectionHttpClient.create()).build();
    this.backing = backing;
    this.instance = runInstance(ZONE);
    this.hypervisor = new FakeHypervisor(root.resolve("host"), root.resolve("images"), instance, ZONE, backing);
    hosts.add(hypervisor);
  }

  /** Another instance in {@code zone} with a fake host of its own (a second agent). */
  FakeHypervisor otherHost(String name, String zone) throws Exception {
    FakeHypervisor h = new FakeHypervisor(root.resolve(name), root.resolve("images"), runInstance(zone), zone, backing);
    hosts.add(h);
    return h;
  }

  String runInstance(String zone) {
    return raw.runInstances(b -> b.imageId("ami-12c6146b").minCount(1).maxCount(1)
        .placement(p -> p.availabilityZone(zone))).instances().get(0).instanceId();
  }


  /** A volume made behind dvdi's back, tagged Name only (or also as dvdi's). */
  String volume(String name, String zone, boolean managed) {
    List<Tag> tags = managed
        ? List.of(Tag.builder().key("Name").value(name).build(), Tag.builder().key(EbsProvider.TAG_MANAGED).value("true").build())
        : List.of(Tag.builder().key("Name").value(name).build());
    return raw.createVolume(b -> b.availabilityZone(zone).size(1).tagSpecifications(TagSpecification.builder()
        .resourceType(ResourceType.VOLUME).tags(tags).build())).volumeId();
  }

  /** The provider's settings: moto, this instance, the fake host's directories, fast polling. */
  Map<String, String> settings(Map<String, String> extra) {
    return settings(hypervisor, extra);
  }

  Map<String, String> settings(FakeHypervisor host, Map<String, String> extra) {
    Map<String, String> s = new HashMap<>(host.settings());
    s.put(EbsConfig.REGION, REGION);
    s.put(EbsConfig.AVAILABILITY_ZONE, host.zone());
    s.put(EbsConfig.INSTANCE_ID, host.instanceId());
    s.put(EbsConfig.ENDPOINT, MotoServer.endpoint().toString());
    s.put(EbsConfig.ACCESS_KEY_ID, ACCESS_KEY);
    s.put(EbsConfig.SECRET_ACCESS_KEY, SECRET_KEY);
    s.put(EbsConfig.POLL_INITIAL, "20ms");
    s.put(EbsConfig.POLL_MAX, "200ms");
    s.put(EbsConfig.PREWARM, "false"); // tests count EC2 calls: no background ones unless asked for
    s.putAll(extra);
    s.values().removeIf(v -> v == null || v.isEmpty());
    return s;
  }

  EbsProvider provider(String driver, Map<String, String> extra) {
    return new EbsProvider(driver, TestSupport.context(root, "agent-" + driver, settings(extra)), hooks());
  }

  /** A provider on another host (its own mount root and devices). */
  EbsProvider provider(FakeHypervisor host, Map<String, String> extra) {
    return new EbsProvider("ebs", TestSupport.context(host.root(), "agent-" + host.instanceId(), settings(host, extra)),
        hooks());
  }

  Ec2Api.Hooks hooks() {
    List<ExecutionInterceptor> all = new java.util.ArrayList<>(hosts);
    all.add(faults);
    return new Ec2Api.Hooks(faults::wrap, all);
  }

  /**
   * One fixture and one provider ("ebs" on "this" instance) per test class, in a temporary
   * directory of its own: {@code @RegisterExtension static final Ec2Fixture.PerClass EC2 =
   * new Ec2Fixture.PerClass(backing)}, after {@code @ExtendWith(MotoServer.class)} on the
   * class (so moto runs first). Everything is released after the class, before the leak check.
   */
  static final class PerClass implements BeforeAllCallback, AfterAllCallback {
    private final FakeHypervisor.Backing backing;
    private Path dir;
    private Ec2Fixture fixture;
    private EbsProvider provider;

    PerClass(FakeHypervisor.Backing backing) {
      this.backing = backing;
    }

    Ec2Fixture fixture() {
      return fixture;
    }

    EbsProvider provider() {
      return provider;
    }

    Path dir() {
      return dir;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
      dir = TmpDirs.newDir();
      fixture = new Ec2Fixture(dir, backing);
      provider = fixture.provider("ebs", Map.of());
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
      try {
        provider.close();
        fixture.close();
      } finally {
        if (KernelMounts.read().under(dir).isEmpty()) {
          try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
              Files.deleteIfExists(p);
            }
          }
        }
      }
    }
  }

  @Override
  public void close() {
    // A failed test may leave mounts behind: release them before their devices go.
    List<KernelMounts.Mount> left = KernelMounts.read().under(root);
    for (int i = left.size() - 1; i >= 0; i--) {
      new Commands().run(List.of("umount", "--lazy", left.get(i).mountPoint()), Duration.ofSeconds(20));
    }
    hosts.forEach(FakeHypervisor::unplugAll);
    raw.close();
  }
}
