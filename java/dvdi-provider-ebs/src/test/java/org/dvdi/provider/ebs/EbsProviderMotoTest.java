package org.dvdi.provider.ebs;

import static org.dvdi.provider.ebs.TestSupport.ctx;
import static org.dvdi.provider.ebs.TestSupport.opts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.host.BlockVolumes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.services.ec2.model.AttachVolumeRequest;
import software.amazon.awssdk.services.ec2.model.CreateVolumeRequest;
import software.amazon.awssdk.services.ec2.model.Volume;
import software.amazon.awssdk.services.ec2.model.VolumeAttachment;

/**
 * The EC2 side against moto: create, find by Name tag, attach with device names, zones,
 * single writer and preempt, waits with deadlines, AWS errors, throttling. The block device
 * side is a fake host whose devices are plain files (no root needed); the root tests mount
 * real loop devices.
 */
@ExtendWith(MotoServer.class)
class EbsProviderMotoTest {
  private static final Logger LOG = Logger.getLogger(EbsProviderMotoTest.class.getName());

  @RegisterExtension
  static final Ec2Fixture.PerClass EC2 = new Ec2Fixture.PerClass(FakeHypervisor.Backing.FILE);

  static Ec2Fixture ec2;
  static EbsProvider p;
  static Path tmp;

  @BeforeAll
  static void fixture() {
    ec2 = EC2.fixture();
    p = EC2.provider();
    tmp = EC2.dir();
  }

  @AfterEach
  void noFaultsLeft() {
    ec2.faults.clear();
    ec2.hypervisor.naming(FakeHypervisor.Naming.NVME_SYSFS);
  }

  private Volume raw(String id) {
    return ec2.raw.describeVolumes(b -> b.volumeIds(id)).volumes().get(0);
  }

  private static VolumeHandle handle(String name, Attachment a) {
    return new VolumeHandle(name, VolumeOptions.EMPTY, "", a.device(), a.providerData());
  }

  @Test
  void createTagsAndFindsByNameAndCreateAgainIsTheSameVolume() {
    VolumeInfo v = p.create("web", opts("size", "8", "iops", "4000", "throughput", "250", "encrypted", "true"), ctx());
    assertTrue(v.id().startsWith("vol-"), v.toString());
    assertEquals(8L << 30, v.sizeBytes());
    assertEquals("available", v.status());
    assertEquals(Map.of("availability-zone", "us-east-1a", "type", "gp3", "iops", "4000", "throughput", "250",
        "encrypted", "true", "managed", "true"), withoutKeys(v.details(), "created", "kms-key-id"));
    Volume r = raw(v.id());
    assertTrue(r.tags().stream().anyMatch(t -> t.key().equals("Name") && t.value().equals("web")), r.tags().toString());
    assertTrue(r.tags().stream().anyMatch(t -> t.key().equals(EbsProvider.TAG_MANAGED)), r.tags().toString());
    assertTrue(r.tags().stream().anyMatch(t -> t.key().equals(EbsProvider.TAG_CREATED_BY) && t.value().equals("agent-ebs")));
    assertEquals(v.id(), p.create("web", opts("size", "99"), ctx()).id(), "exists: returned, not made again");
    assertEquals(v.id(), p.inspect("web", ctx()).orElseThrow().id());
    assertTrue(p.list(ctx()).stream().anyMatch(x -> x.name().equals("web") && x.id().equals(v.id())));
    p.remove("web", ctx());
    assertEquals(Optional.empty(), p.inspect("web", ctx()));
    DvdiException gone = assertThrows(DvdiException.class, () -> p.remove("web", ctx()));
    assertEquals(ErrorCode.VOLUME_NOT_FOUND, gone.getCode());
  }

  private static Map<String, String> withoutKeys(Map<String, String> m, String... keys) {
    Map<String, String> out = new java.util.TreeMap<>(m);
    for (String k : keys) {
      out.remove(k);
    }
    return out;
  }

  @Test
  void twoVolumesWithOneNameAreRefusedNamingBoth() {
    String a = ec2.volume("twin", Ec2Fixture.ZONE, true);
    String b = ec2.volume("twin", Ec2Fixture.ZONE, true);
    for (Runnable call : List.<Runnable>of(() -> p.inspect("twin", ctx()), () -> p.attach("twin", VolumeOptions.EMPTY, ctx()),
        () -> p.remove("twin", ctx()), () -> p.create("twin", VolumeOptions.EMPTY, ctx()))) {
      DvdiException e = assertThrows(DvdiException.class, call::run);
      assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
      assertTrue(e.getMessage().contains(a) && e.getMessage().contains(b) && e.getMessage().contains("'twin'"), e.getMessage());
    }
    assertEquals(0, ec2.faults.calls("AttachVolume"));
    ec2.raw.deleteVolume(x -> x.volumeId(a));
    ec2.raw.deleteVolume(x -> x.volumeId(b));
  }

  @Test
  void volumesDvdiDidNotCreateAreLeftAloneUnlessAdopted() {
    String id = ec2.volume("foreign", Ec2Fixture.ZONE, false);
    DvdiException e = assertThrows(DvdiException.class, () -> p.inspect("foreign", ctx()));
    assertEquals(ErrorCode.INVALID_REQUEST, e.getCode());
    assertTrue(e.getMessage().contains(id) && e.getMessage().contains("adopt-unmanaged"), e.getMessage());
    assertThrows(DvdiException.class, () -> p.attach("foreign", VolumeOptions.EMPTY, ctx()));
    assertFalse(p.list(ctx()).stream().anyMatch(v -> v.name().equals("foreign")));

    try (EbsProvider adopting = ec2.provider("ebs", Map.of(EbsConfig.ADOPT_UNMANAGED, "true"))) {
      assertEquals("false", adopting.inspect("foreign", ctx()).orElseThrow().details().get("managed"));
      Attachment att = adopting.attach("foreign", VolumeOptions.EMPTY, ctx());
      DvdiException rm = assertThrows(DvdiException.class, () -> adopting.remove("foreign", ctx()));
      assertEquals(ErrorCode.INVALID_REQUEST, rm.getCode(), "never deletes what it did not create");
      adopting.detach(handle("foreign", att), ctx());
    }
    ec2.raw.deleteVolume(x -> x.volumeId(id));
  }

  @ParameterizedTest
  @EnumSource(FakeHypervisor.Naming.class)
  void attachFindsTheDeviceIsIdempotentAndDetachWaits(FakeHypervisor.Naming naming) throws Exception {
    ec2.hypervisor.naming(naming);
    String name = "att-" + naming.name().toLowerCase().replace('_', '-');
    String id = p.create(name, opts("size", "1"), ctx()).id();
    Attachment a = p.attach(name, VolumeOptions.EMPTY, ctx());
    Path image = tmp.resolve("images").resolve(id + ".img").toRealPath();
    assertEquals(image.toString(), a.device(), "the discovered device is this volume's");
    assertEquals(Map.of(EbsProvider.DATA_VOLUME_ID, id, EbsProvider.DATA_EC2_DEVICE, "/dev/xvdf",
        EbsProvider.DATA_INSTANCE, ec2.instance), a.providerData());
    VolumeAttachment at = raw(id).attachments().get(0);
    assertEquals(ec2.instance, at.instanceId());
    int attaches = ec2.faults.calls("AttachVolume");
    assertEquals(a, p.attach(name, VolumeOptions.EMPTY, ctx()), "attach again: same device, no new AttachVolume");
    assertEquals(attaches, ec2.faults.calls("AttachVolume"));
    assertEquals(ec2.instance, p.inspect(name, ctx()).orElseThrow().attachedTo());

    p.detach(handle(name, a), ctx());
    assertEquals("available", raw(id).stateAsString());
    assertFalse(ec2.hypervisor.plugged(id));
    int detaches = ec2.faults.calls("DetachVolume");
    p.detach(handle(name, a), ctx());
    p.detach(new VolumeHandle(name, VolumeOptions.EMPTY, "", "", Map.of()), ctx());
    assertEquals(detaches, ec2.faults.calls("DetachVolume"), "detach again: nothing to do");
    p.remove(name, ctx());
  }

  @Test
  void deviceNamesAvoidTheInstancesMappingsLocalDevicesAndNamesInUse() throws Exception {
    String first = p.create("dev-1", opts("size", "1"), ctx()).id();
    String other = ec2.volume("not-dvdi", Ec2Fixture.ZONE, false);
    Path local = Files.createFile(ec2.hypervisor.devDir().resolve("xvdf")); // a local disk called xvdf
    ec2.raw.attachVolume(b -> b.volumeId(other).instanceId(ec2.instance).device("/dev/xvdg"));
    // EC2 still calls /dev/xvdh in use (a mapping not listed yet): the next name is taken.
    ec2.faults.fail("AttachVolume", 1, 400, "InvalidParameterValue",
        "Invalid value '/dev/xvdh' for unixDevice. Attachment point /dev/xvdh is already in use");
    Attachment a = p.attach("dev-1", VolumeOptions.EMPTY, ctx());
    assertEquals("/dev/xvdi", a.providerData().get(EbsProvider.DATA_EC2_DEVICE));
    assertEquals(2, ec2.faults.calls("AttachVolume"));
    String second = p.create("dev-2", opts("size", "1"), ctx()).id();
    Attachment b = p.attach("dev-2", VolumeOptions.EMPTY, ctx());
    assertEquals("/dev/xvdh", b.providerData().get(EbsProvider.DATA_EC2_DEVICE));
    p.detach(handle("dev-1", a), ctx());
    p.detach(handle("dev-2", b), ctx());
    ec2.raw.detachVolume(x -> x.volumeId(other).instanceId(ec2.instance));
    Files.delete(local);
    p.remove("dev-1", ctx());
    p.remove("dev-2", ctx());
    ec2.raw.deleteVolume(x -> x.volumeId(other));
    assertFalse(first.equals(second));
  }

  @Test
  void aVolumeInAnotherZoneIsRefusedBeforeAttaching() {
    String id = ec2.volume("far", Ec2Fixture.OTHER_ZONE, true);
    DvdiException e = assertThrows(DvdiException.class, () -> p.attach("far", VolumeOptions.EMPTY, ctx()));
    assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
    assertTrue(e.getMessage().contains("us-east-1b") && e.getMessage().contains("us-east-1a")
        && e.getMessage().contains(id), e.getMessage());
    assertEquals(0, ec2.faults.calls("AttachVolume"));
    ec2.raw.deleteVolume(x -> x.volumeId(id));
  }

  @Test
  void aVolumeAttachedToAnotherInstanceIsBusyUnlessPreempt() throws Exception {
    String other = ec2.runInstance(Ec2Fixture.ZONE);
    String id = p.create("held", opts("size", "1"), ctx()).id();
    ec2.raw.attachVolume(b -> b.volumeId(id).instanceId(other).device("/dev/xvdf"));
    DvdiException e = assertThrows(DvdiException.class, () -> p.attach("held", VolumeOptions.EMPTY, ctx()));
    assertEquals(ErrorCode.VOLUME_BUSY, e.getCode());
    assertTrue(e.getMessage().contains(other) && e.getMessage().contains("preempt"), e.getMessage());
    assertEquals(0, ec2.faults.calls("AttachVolume"));
    assertEquals(other, raw(id).attachments().get(0).instanceId(), "left where it was");
    // Detach by a non-holder does not touch the other instance's attachment.
    p.detach(new VolumeHandle("held", VolumeOptions.EMPTY, "", "", Map.of(EbsProvider.DATA_VOLUME_ID, id)), ctx());
    assertEquals(other, raw(id).attachments().get(0).instanceId());

    try (EbsProvider preempting = ec2.provider("ebs", Map.of(EbsConfig.PREEMPT, "true"))) {
      Attachment a = preempting.attach("held", VolumeOptions.EMPTY, ctx());
      List<VolumeAttachment> now = raw(id).attachments();
      assertEquals(1, now.size());
      assertEquals(ec2.instance, now.get(0).instanceId(), "taken over");
      assertTrue(ec2.faults.calls("DetachVolume") >= 1);
      preempting.detach(handle("held", a), ctx());
    }
    p.remove("held", ctx());
  }

  @Test
  void losingTheRaceToAttachIsBusyNamingTheWinner() {
    // Another instance attaches the volume between this agent's look and its AttachVolume.
    String other = ec2.runInstance(Ec2Fixture.ZONE);
    String id = p.create("contested", opts("size", "1"), ctx()).id();
    ec2.faults.beforeNext(AttachVolumeRequest.class,
        () -> ec2.raw.attachVolume(b -> b.volumeId(id).instanceId(other).device("/dev/xvdf")));
    ec2.faults.fail("AttachVolume", 1, 400, "VolumeInUse", id + " is already attached to an instance");
    DvdiException e = assertThrows(DvdiException.class, () -> p.attach("contested", VolumeOptions.EMPTY, ctx()));
    assertEquals(ErrorCode.VOLUME_BUSY, e.getCode(), e.getMessage());
    assertTrue(e.getMessage().contains(other), e.getMessage());
    ec2.raw.detachVolume(b -> b.volumeId(id).instanceId(other));
    p.remove("contested", ctx());
  }

  @Test
  void aVolumeStillDetachingFromAnotherInstanceIsWaitedFor() {
    // A task moved here while its old agent is still releasing the volume: no preempt needed.
    String other = ec2.runInstance(Ec2Fixture.ZONE);
    String id = p.create("moving-in", opts("size", "1"), ctx()).id();
    ec2.raw.attachVolume(b -> b.volumeId(id).instanceId(other).device("/dev/xvdf"));
    ec2.faults.showDetaching(id, 4, () -> ec2.raw.detachVolume(b -> b.volumeId(id).instanceId(other)));
    Attachment a = p.attach("moving-in", VolumeOptions.EMPTY, ctx());
    assertEquals(ec2.instance, raw(id).attachments().get(0).instanceId());
    assertEquals(0, ec2.faults.calls("DetachVolume"), "waited; nothing forced");
    p.detach(handle("moving-in", a), ctx());
    p.remove("moving-in", ctx());
  }

  @Test
  void parallelAttachesGetDistinctDeviceNames() throws Exception {
    int n = 4;
    for (int i = 0; i < n; i++) {
      p.create("par-" + i, opts("size", "1"), ctx());
    }
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(n);
    try {
      List<java.util.concurrent.Future<Attachment>> fs = new java.util.ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = "par-" + i;
        fs.add(pool.submit(() -> p.attach(name, VolumeOptions.EMPTY, ctx())));
      }
      List<Attachment> all = new java.util.ArrayList<>();
      for (java.util.concurrent.Future<Attachment> f : fs) {
        all.add(f.get());
      }
      java.util.Set<String> devices = new java.util.TreeSet<>();
      for (int i = 0; i < n; i++) {
        devices.add(all.get(i).providerData().get(EbsProvider.DATA_EC2_DEVICE));
        p.detach(handle("par-" + i, all.get(i)), ctx());
        p.remove("par-" + i, ctx());
      }
      assertEquals(java.util.Set.of("/dev/xvdf", "/dev/xvdg", "/dev/xvdh", "/dev/xvdi"), devices);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void slowEc2CallsOfOneAttachDoNotHoldUpAnotherAttach() throws Exception {
    // EC2 slow or throttling (each call retried with backoff): the device-name lock must not
    // make every other attach on this agent wait for one attach's DescribeInstances and AttachVolume.
    p.create("slow-a", opts("size", "1"), ctx());
    p.create("slow-b", opts("size", "1"), ctx());
    ec2.faults.slow("DescribeInstances", 1000);
    ec2.faults.slow("AttachVolume", 1000);
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    List<String> names = List.of("slow-a", "slow-b");
    Map<String, Attachment> got = new java.util.concurrent.ConcurrentHashMap<>();
    List<Throwable> failed = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> threads = new java.util.ArrayList<>();
    for (String name : names) {
      Thread t = new Thread(() -> {
        try {
          go.await();
          got.put(name, p.attach(name, VolumeOptions.EMPTY, ctx()));
        } catch (Throwable e) {
          failed.add(e);
        }
      }, "attach-" + name);
      threads.add(t);
      t.start();
    }
    long start = System.nanoTime();
    go.countDown();
    for (Thread t : threads) {
      t.join(Duration.ofSeconds(60).toMillis());
    }
    long ms = (System.nanoTime() - start) / 1_000_000;
    List<Faults.Span> spans = new java.util.ArrayList<>(ec2.faults.spans("DescribeInstances"));
    spans.addAll(ec2.faults.spans("AttachVolume"));
    ec2.faults.clear();
    try {
      assertEquals(List.of(), failed);
      String timeline = spans.stream().sorted(java.util.Comparator.comparingLong(Faults.Span::startNanos))
          .map(x -> x.thread() + " " + x.action() + " " + (x.startNanos() - start) / 1_000_000 + "-"
              + (x.endNanos() - start) / 1_000_000 + " ms")
          .collect(java.util.stream.Collectors.joining("; "));
      LOG.info("two attaches, DescribeInstances and AttachVolume 1 s each: " + ms + " ms (" + timeline + ")");
      List<Faults.Span> a = spans.stream().filter(x -> x.thread().equals("attach-slow-a")).toList();
      List<Faults.Span> b = spans.stream().filter(x -> x.thread().equals("attach-slow-b")).toList();
      assertFalse(a.isEmpty() || b.isEmpty(), timeline);
      assertTrue(a.stream().anyMatch(x -> b.stream().anyMatch(x::overlaps)),
          "the attaches' EC2 calls ran one after the other, not at once: " + timeline);
      assertFalse(got.get("slow-a").providerData().get(EbsProvider.DATA_EC2_DEVICE)
          .equals(got.get("slow-b").providerData().get(EbsProvider.DATA_EC2_DEVICE)), got.toString());
    } finally {
      for (Map.Entry<String, Attachment> e : got.entrySet()) {
        p.detach(handle(e.getKey(), e.getValue()), ctx());
      }
      for (String name : names) {
        p.remove(name, ctx());
      }
    }
  }

  @Test
  void aNameWhoseAttachVolumeTimedOutIsNotGivenToAnotherVolumeUntilDetached() throws Exception {
    // EC2 attached the first volume, but its answer came after the call's deadline; the
    // instance's mappings do not list the attachment yet (DescribeInstances is eventually
    // consistent). The name may be taken: another attach must not get it.
    String late = p.create("late-a", opts("size", "1"), ctx()).id();
    p.create("late-b", opts("size", "1"), ctx());
    p.create("late-c", opts("size", "1"), ctx());
    ec2.faults.hideMappings = true;
    ec2.faults.answerLate("AttachVolume", 3000);
    DvdiException e = assertThrows(DvdiException.class, () -> p.attach("late-a", VolumeOptions.EMPTY,
        ctx(Duration.ofMillis(1500))));
    assertEquals(ErrorCode.TIMEOUT, e.getCode(), e.getMessage());
    String taken = raw(late).attachments().get(0).device();
    ec2.faults.answerLate("AttachVolume", 0);
    Attachment b = p.attach("late-b", VolumeOptions.EMPTY, ctx());
    assertFalse(taken.equals(b.providerData().get(EbsProvider.DATA_EC2_DEVICE)), taken + " given twice: " + b);
    // The undo after the failed attach detaches it; then the name is free again.
    p.detach(new VolumeHandle("late-a", VolumeOptions.EMPTY, "", "", Map.of()), ctx());
    Attachment c = p.attach("late-c", VolumeOptions.EMPTY, ctx());
    assertEquals(taken, c.providerData().get(EbsProvider.DATA_EC2_DEVICE));
    p.detach(handle("late-b", b), ctx());
    p.detach(handle("late-c", c), ctx());
    for (String name : List.of("late-a", "late-b", "late-c")) {
      p.remove(name, ctx());
    }
  }

  @Test
  void anAttachmentStuckInAttachingEndsWithTimeoutAtTheDeadline() {
    String id = p.create("stuck", opts("size", "1"), ctx()).id();
    ec2.faults.stuckAttaching.add(id);
    long start = System.nanoTime();
    DvdiException e = assertThrows(DvdiException.class,
        () -> p.attach("stuck", VolumeOptions.EMPTY, ctx(Duration.ofSeconds(2))));
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals(ErrorCode.TIMEOUT, e.getCode(), e.getMessage());
    assertTrue(e.getMessage().contains("attaching") && e.getMessage().contains(id), e.getMessage());
    assertTrue(ms >= 1900 && ms < 3500, "ended at the deadline: " + ms + " ms");
    int polls = ec2.faults.calls("DescribeVolumes");
    assertTrue(polls > 3 && polls < 40, "polled with backoff, not in a busy loop: " + polls);
    // The undo after a failed attach: detach cleans the half-made attachment up.
    ec2.faults.stuckAttaching.clear();
    p.detach(new VolumeHandle("stuck", VolumeOptions.EMPTY, "", "", Map.of()), ctx());
    assertEquals("available", raw(id).stateAsString());
    p.remove("stuck", ctx());
  }

  @Test
  void attachmentLimitExceededIsReportedAsSuch() {
    String id = p.create("limit", opts("size", "1"), ctx()).id();
    ec2.faults.fail("AttachVolume", 1, 400, "AttachmentLimitExceeded",
        "You have reached the maximum number of volumes that can be attached to this instance");
    DvdiException e = assertThrows(DvdiException.class, () -> p.attach("limit", VolumeOptions.EMPTY, ctx()));
    assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
    assertTrue(e.getMessage().contains("AttachmentLimitExceeded") && e.getMessage().contains("limit of attached EBS volumes"),
        e.getMessage());
    assertEquals("available", raw(id).stateAsString());
    assertEquals(1, ec2.faults.calls("AttachVolume"), "not retried: retrying cannot free a slot");
    p.remove("limit", ctx());
  }

  @Test
  void throttlingIsRetriedWithBackoffAndReportedWhenItDoesNotEnd() {
    p.create("throttled", opts("size", "1"), ctx());
    int before = ec2.faults.calls("DescribeVolumes");
    ec2.faults.fail("DescribeVolumes", 2, 503, "RequestLimitExceeded", "Request limit exceeded.");
    assertTrue(p.inspect("throttled", ctx()).isPresent());
    assertEquals(before + 3, ec2.faults.calls("DescribeVolumes"), "two throttled attempts, then the answer");

    try (EbsProvider twice = ec2.provider("ebs", Map.of(EbsConfig.MAX_ATTEMPTS, "2"))) {
      ec2.faults.fail("DescribeVolumes", 5, 503, "RequestLimitExceeded", "Request limit exceeded.");
      DvdiException e = assertThrows(DvdiException.class, () -> twice.inspect("throttled", ctx()));
      assertEquals(ErrorCode.PROVIDER_FAILURE, e.getCode());
      assertTrue(e.getMessage().contains("RequestLimitExceeded") && e.getMessage().contains("throttled"), e.getMessage());
    }
    ec2.faults.clear();
    p.remove("throttled", ctx());
  }

  @Test
  void everyEc2CallEndsAtTheCallsDeadline() {
    ec2.faults.slow("DescribeVolumes", 5000);
    long start = System.nanoTime();
    DvdiException e = assertThrows(DvdiException.class, () -> p.inspect("slow", ctx(Duration.ofMillis(800))));
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals(ErrorCode.TIMEOUT, e.getCode(), e.getMessage());
    assertTrue(e.getMessage().contains("DescribeVolumes"), e.getMessage());
    assertTrue(ms < 2000, "bounded by the deadline: " + ms + " ms");
  }

  @Test
  void missingVolumes() {
    DvdiException a = assertThrows(DvdiException.class, () -> p.attach("nothing", VolumeOptions.EMPTY, ctx()));
    assertEquals(ErrorCode.VOLUME_NOT_FOUND, a.getCode());
    assertTrue(a.getMessage().contains("ebs/nothing"), a.getMessage());
    assertEquals(ErrorCode.VOLUME_NOT_FOUND, assertThrows(DvdiException.class, () -> p.remove("nothing", ctx())).getCode());
    p.detach(new VolumeHandle("nothing", VolumeOptions.EMPTY, "", "", Map.of()), ctx());
    p.detach(new VolumeHandle("nothing", VolumeOptions.EMPTY, "", "",
        Map.of(EbsProvider.DATA_VOLUME_ID, "vol-0000000000000dead")), ctx());
  }

  @Test
  void awsRefusingCreateOptionsIsTheRequestsFault() {
    ec2.faults.fail("CreateVolume", 1, 400, "InvalidParameterValue", "The volume size is invalid for io2 volumes");
    DvdiException e = assertThrows(DvdiException.class, () -> p.create("refused", opts("size", "1"), ctx()));
    assertEquals(ErrorCode.INVALID_REQUEST, e.getCode());
    assertTrue(e.getMessage().contains("AWS refused the options of EBS volume 'refused'")
        && e.getMessage().contains("The volume size is invalid"), e.getMessage());
  }

  @Test
  void twoAgentsCreatingOneNameAtOnceEndWithOneVolume() {
    // Another agent's CreateVolume lands between this agent's lookup and its own create.
    String[] theirs = new String[1];
    ec2.faults.beforeNext(CreateVolumeRequest.class, () -> theirs[0] = ec2.volume("race", Ec2Fixture.ZONE, true));
    VolumeInfo mine = p.create("race", opts("size", "1"), ctx());
    List<Volume> left = ec2.raw.describeVolumes(b -> b.filters(
        software.amazon.awssdk.services.ec2.model.Filter.builder().name("tag:Name").values("race").build())).volumes();
    Volume winner = left.stream().min(java.util.Comparator.comparing(Volume::createTime).thenComparing(Volume::volumeId))
        .orElseThrow();
    assertEquals(winner.volumeId(), mine.id(), "the oldest volume wins");
    if (!mine.id().equals(theirs[0])) {
      // This agent won: the other agent deletes its own copy (not simulated here).
      ec2.raw.deleteVolume(x -> x.volumeId(theirs[0]));
    } else {
      assertEquals(1, left.size(), "this agent lost and deleted its copy: " + left);
    }
    p.remove("race", ctx());
  }

  @Test
  void identityFromTheMetadataServiceWhenNotConfigured() throws Exception {
    try (FakeImds imds = new FakeImds(Ec2Fixture.REGION, Ec2Fixture.ZONE, ec2.instance);
        EbsProvider fromImds = new EbsProvider("ebs", TestSupport.context(tmp, "agent-imds", ec2.settings(Map.of(
            EbsConfig.REGION, "", EbsConfig.AVAILABILITY_ZONE, "", EbsConfig.INSTANCE_ID, "",
            EbsConfig.IMDS_ENDPOINT, imds.endpoint().toString()))), new Ec2Api.Hooks(ec2.faults::wrap,
                List.of(ec2.hypervisor, ec2.faults)))) {
      fromImds.create("imds", opts("size", "1"), ctx());
      Attachment a = fromImds.attach("imds", VolumeOptions.EMPTY, ctx());
      assertEquals(ec2.instance, a.providerData().get(EbsProvider.DATA_INSTANCE));
      assertEquals("PUT " + InstanceMetadata.TOKEN_PATH, imds.requests.get(0));
      int asked = imds.requests.size();
      fromImds.detach(handle("imds", a), ctx());
      fromImds.remove("imds", ctx());
      assertEquals(asked, imds.requests.size(), "asked once, then remembered");
    }
  }

  @Test
  void prewarmMakesTheClientInTheBackground() throws Exception {
    int before = ec2.faults.calls("DescribeVolumes");
    try (EbsProvider warm = ec2.provider("ebs", Map.of(EbsConfig.PREWARM, "true"))) {
      long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (ec2.faults.calls("DescribeVolumes") == before && System.nanoTime() < until) {
        Thread.sleep(20);
      }
      assertEquals(before + 1, ec2.faults.calls("DescribeVolumes"), "one cheap call, made without being asked");
      assertEquals(Optional.empty(), warm.inspect("prewarmed", ctx()));
    }
  }

  @Test
  void theDeviceIsCanonical() throws Exception {
    p.create("canon", opts("size", "1"), ctx());
    ec2.hypervisor.naming(FakeHypervisor.Naming.NVME_BY_ID);
    Attachment a = p.attach("canon", VolumeOptions.EMPTY, ctx());
    assertEquals(BlockVolumes.canonical(a.device()), a.device());
    p.detach(handle("canon", a), ctx());
    p.remove("canon", ctx());
  }
}
