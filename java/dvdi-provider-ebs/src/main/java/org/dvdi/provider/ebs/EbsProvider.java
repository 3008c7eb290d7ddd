package org.dvdi.provider.ebs;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.Sizes;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.host.BlockVolumes;
import org.dvdi.spi.host.Commands;
import org.dvdi.spi.host.KernelMounts;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceBlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.Reservation;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.TagSpecification;
import software.amazon.awssdk.services.ec2.model.Volume;
import software.amazon.awssdk.services.ec2.model.VolumeAttachment;
import software.amazon.awssdk.services.ec2.model.VolumeAttachmentState;
import software.amazon.awssdk.services.ec2.model.VolumeModification;
import software.amazon.awssdk.services.ec2.model.VolumeModificationState;
import software.amazon.awssdk.services.ec2.model.VolumeState;

/**
 * AWS EBS volumes, natively through the EC2 API (SDK v2): no REX-Ray, no dvdcli.
 *
 * <p>A volume is found by its {@code Name} tag, as REX-Ray names them; dvdi also tags what it
 * creates with {@value #TAG_MANAGED} and leaves alone volumes without that tag unless
 * {@code adopt-unmanaged} is set (an unrelated volume that happens to share a name must
 * never be attached here, force-detached or formatted). Two live volumes with one name are
 * refused: dvdi cannot know which one holds the task's data.
 *
 * <p>Attach picks a device name free both in this instance's block device mappings and in
 * the local /dev, attaches only within the instance's availability zone, and keeps a single
 * writer: a volume attached to another instance is VOLUME_BUSY naming it, unless
 * {@code preempt} is set, which force-detaches it first ("equivalent to a power off" of the
 * other instance's use, as REX-Ray's preempt). A volume still detaching from another instance
 * (a task moving here) is waited for. Then the block device is found (NVMe serial, udev
 * by-id link, xvd/sd name: {@link DeviceDiscovery}) and mounted by the shared
 * {@link BlockVolumes} layer, which makes a filesystem when there is none.
 *
 * <p>Every EC2 call and every wait is bounded by the call's deadline; state changes are
 * polled with exponential backoff ({@link Backoff}). The EC2 client and the instance's
 * identity (metadata service) are made on first use, so that an agent that never mounts an
 * EBS volume pays nothing for them.
 */
public final class EbsProvider implements VolumeProvider {
  private static final Logger LOG = Logger.getLogger(EbsProvider.class.getName());

  /** The tag that holds a volume's name (as REX-Ray). */
  static final String TAG_NAME = "Name";
  /** The tag on every volume dvdi created. */
  static final String TAG_MANAGED = "dvdi:managed";
  /** Which dvdi agent created the volume (for people reading the console). */
  static final String TAG_CREATED_BY = "dvdi:created-by";

  /** Provider data keys (kept by dvdi with the volume's record; never secrets). */
  static final String DATA_VOLUME_ID = "volume-id";
  static final String DATA_EC2_DEVICE = "ec2-device";
  static final String DATA_INSTANCE = "ec2-instance";

  /** Volume states that count as existing (a deleted volume stays listed for a while). */
  private static final List<String> LIVE = List.of("creating", "available", "in-use", "error");

  /** Volume names: safe as a path component and as a tag value. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

  /** AWS error codes for parameters it refused at CreateVolume: the request's fault. */
  private static final Set<String> BAD_PARAMETER = Set.of("InvalidParameterValue", "InvalidParameterCombination",
      "InvalidParameterDependency", "InvalidParameter", "MissingParameter", "UnknownVolumeType",
      "InvalidKMSKey.NotFound", "InvalidZone.NotFound");

  private final String driver;
  private final String agentId;
  private final Path mountRoot;
  private final EbsConfig cfg;
  private final BlockVolumes block;
  private final Commands commands;
  private final DeviceDiscovery devices;
  private final Backoff backoff;
  private final InstanceMetadata metadata;
  private final Ec2Api.Hooks hooks;

  /** The EC2 client and who this instance is, made on first use. */
  private record Aws(Ec2Api api, InstanceMetadata.Identity id) {}

  private volatile Aws aws;
  private final ReentrantLock initLock = new ReentrantLock();
  /** Held while a device letter is picked and reserved; never across an EC2 call. */
  private final ReentrantLock deviceLock = new ReentrantLock();
  /**
   * Device letters this process reserved, each for the volume it asks (or asked) AttachVolume
   * to attach under it, until that volume is detached. Added only under {@link #deviceLock}.
   */
  private final Map<Character, String> reserved = new ConcurrentHashMap<>();

  EbsProvider(String driver, ProviderContext ctx, Ec2Api.Hooks hooks) {
    this.cfg = new EbsConfig(ctx.settings());
    this.driver = driver;
    this.agentId = ctx.instanceId();
    this.mountRoot = ctx.mountRoot().resolve(driver);
    this.block = new BlockVolumes(ctx.commands());
    this.commands = ctx.commands();
    this.devices = new DeviceDiscovery(cfg.devDir, cfg.sysBlockDir, cfg.byIdDir);
    this.backoff = new Backoff(cfg.pollInitial, cfg.pollMax);
    this.metadata = new InstanceMetadata(cfg.imdsEndpoint, cfg.imdsTimeout);
    this.hooks = hooks;
    if (cfg.prewarm) {
      Thread t = new Thread(this::prewarm, "dvdi-ebs-prewarm-" + driver);
      t.setDaemon(true);
      t.start();
    }
  }

  /**
   * Makes the EC2 client and asks EC2 one cheap question, in the background, so that the
   * first task that mounts an EBS volume does not pay for loading the SDK (about 2 s of class
   * loading on a small host) and so that bad credentials or a missing IAM permission show in
   * the agent's log at once. A failure is only logged: the next call tries again.
   */
  private void prewarm() {
    CallContext ctx = CallContext.of(java.time.Duration.ofSeconds(60), "prewarm ebs provider " + driver, agentId);
    long start = System.nanoTime();
    try {
      Aws a = aws(ctx);
      byName(a, "dvdi-prewarm-" + agentId.hashCode(), ctx);
      LOG.info("EBS provider for driver '" + driver + "' ready in " + (System.nanoTime() - start) / 1_000_000 + " ms");
    } catch (RuntimeException e) {
      LOG.warning("EBS provider for driver '" + driver + "' could not reach EC2 yet (it tries again on first use): "
          + e.getMessage());
    }
  }

  @Override
  public String driver() {
    return driver;
  }

  @Override
  public Capabilities capabilities() {
    return new Capabilities(true);
  }

  @Override
  public void validate(String name, VolumeOptions options) {
    if (!NAME.matcher(name).matches()) {
      throw DvdiException.invalid("volume name '" + name + "' is not a valid EBS volume name for dvdi: 1 to 128"
          + " letters, digits, '_', '.', '-', starting with a letter or digit");
    }
    EbsOptions.parse(driver, name, options, cfg.defaultSizeBytes, cfg.defaultType);
    block.validate(options);
  }

  // ------------------------------------------------------------------ inspect, list, create

  @Override
  public Optional<VolumeInfo> inspect(String name, CallContext ctx) {
    Aws a = aws(ctx);
    return find(a, name, ctx).map(v -> info(name, v));
  }

  @Override
  public List<VolumeInfo> list(CallContext ctx) {
    Aws a = aws(ctx);
    List<Volume> vols = describe(a, ctx, Filter.builder().name("tag-key")
        .values(cfg.adoptUnmanaged ? TAG_NAME : TAG_MANAGED).build());
    List<VolumeInfo> out = new ArrayList<>();
    for (Volume v : vols) {
      tag(v, TAG_NAME).ifPresent(n -> out.add(info(n, v)));
    }
    out.sort(Comparator.comparing(VolumeInfo::name).thenComparing(VolumeInfo::id));
    return out;
  }

  @Override
  public VolumeInfo create(String name, VolumeOptions options, CallContext ctx) {
    validate(name, options);
    EbsOptions spec = EbsOptions.parse(driver, name, options, cfg.defaultSizeBytes, cfg.defaultType);
    Aws a = aws(ctx);
    Optional<Volume> existing = find(a, name, ctx);
    if (existing.isPresent()) {
      return info(name, existing.get());
    }
    long start = System.nanoTime();
    String zone = a.id().availabilityZone();
    String id;
    try {
      id = a.api().call(ctx, "CreateVolume", o -> a.api().client().createVolume(b -> b
          .availabilityZone(zone)
          .size(spec.sizeGiB())
          .volumeType(spec.type())
          .iops(spec.iops() > 0 ? spec.iops() : null)
          .throughput(spec.throughput() > 0 ? spec.throughput() : null)
          .encrypted(spec.encrypted() ? Boolean.TRUE : null)
          .kmsKeyId(spec.kmsKeyId().orElse(null))
          .tagSpecifications(TagSpecification.builder().resourceType(ResourceType.VOLUME).tags(
              Tag.builder().key(TAG_NAME).value(name).build(),
              Tag.builder().key(TAG_MANAGED).value("true").build(),
              Tag.builder().key(TAG_CREATED_BY).value(agentId).build()).build())
          .overrideConfiguration(o)).volumeId());
    } catch (Ec2Api.Failure f) {
      if (BAD_PARAMETER.contains(f.awsCode())) {
        throw new DvdiException(ErrorCode.INVALID_REQUEST, "AWS refused the options of EBS volume '" + name + "' ("
            + options.origin() + "): " + f.getMessage(), f);
      }
      throw f;
    }
    LOG.info(ctx.operation() + ": created EBS volume " + label(name) + " " + id + " (" + spec.sizeGiB() + " GiB "
        + spec.type() + (spec.encrypted() ? ", encrypted" : "") + ") in " + zone);
    // Two agents may create one name at once. The oldest volume wins; the others are
    // deleted by whoever made them, so that the name stays unique.
    List<Volume> same = byName(a, name, ctx);
    if (same.size() > 1) {
      Volume winner = same.stream().min(Comparator.comparing(Volume::createTime, Comparator.nullsLast(
          Comparator.naturalOrder())).thenComparing(Volume::volumeId)).get();
      if (!winner.volumeId().equals(id)) {
        LOG.warning(ctx.operation() + ": another agent created EBS volume " + label(name) + " as " + winner.volumeId()
            + " at the same time; deleting this agent's " + id);
        awaitVolume(a, id, ctx, "new volume " + id + " becoming available before it is deleted",
            v -> v.state() != VolumeState.CREATING);
        a.api().call(ctx, "DeleteVolume", o -> a.api().client().deleteVolume(b -> b.volumeId(id).overrideConfiguration(o)));
        return info(name, winner);
      }
    }
    Volume v = awaitVolume(a, id, ctx, "creating EBS volume " + label(name) + " (" + id + ")",
        x -> x.state() != VolumeState.CREATING);
    if (v.state() != VolumeState.AVAILABLE) {
      throw DvdiException.provider(ctx.operation() + ": EBS volume " + label(name) + " (" + id + ") ended in state '"
          + v.stateAsString() + "' instead of 'available' after CreateVolume");
    }
    LOG.fine(ctx.operation() + ": " + id + " available after " + (System.nanoTime() - start) / 1_000_000 + " ms");
    return info(name, v);
  }

  // ------------------------------------------------------------------ attach, mount

  @Override
  public Attachment attach(String name, VolumeOptions options, CallContext ctx) {
    Aws a = aws(ctx);
    String me = a.id().instanceId();
    long start = System.nanoTime();
    Volume v = find(a, name, ctx).orElseThrow(() -> notFound(a, name));
    String id = v.volumeId();
    if (!a.id().availabilityZone().equals(v.availabilityZone())) {
      throw DvdiException.provider(ctx.operation() + ": EBS volume " + label(name) + " (" + id + ") is in availability zone "
          + v.availabilityZone() + ", and this instance (" + me + ") is in " + a.id().availabilityZone()
          + ": EBS volumes attach only within their zone. Run the task on an agent in " + v.availabilityZone()
          + " (e.g. a constraint on the agents' zone attribute), or move the data with a snapshot");
    }
    boolean asked = false;
    for (int round = 0; round < 8; round++) {
      List<VolumeAttachment> others = live(v).stream().filter(x -> !me.equals(x.instanceId())).collect(Collectors.toList());
      if (!others.isEmpty()) {
        boolean leaving = others.stream().allMatch(x -> x.state() == VolumeAttachmentState.DETACHING);
        if (!leaving) {
          if (!cfg.preempt) {
            throw DvdiException.busy(ctx.operation() + ": EBS volume " + label(name) + " (" + id + ") is attached to "
                + describe(others) + "; an EBS volume has one writer. Release it there, or set providers.ebs.preempt=true"
                + " to force-detach it (like pulling the disk out of a running machine)");
          }
          preempt(a, name, v, others, ctx);
        }
        v = awaitVolume(a, id, ctx, "EBS volume " + label(name) + " (" + id + ") detaching from " + describe(others),
            x -> live(x).stream().allMatch(y -> me.equals(y.instanceId())));
        continue;
      }
      Optional<VolumeAttachment> mine = live(v).stream().findFirst();
      if (mine.isPresent()) {
        VolumeAttachmentState s = mine.get().state();
        if (s == VolumeAttachmentState.ATTACHED || s == VolumeAttachmentState.BUSY) {
          Path dev = devices.await(id, mine.get().device(), ctx, label(name));
          String canonical = BlockVolumes.canonical(dev.toString());
          if (asked) {
            LOG.info(ctx.operation() + ": attached EBS volume " + label(name) + " " + id + " to " + me + " as "
                + mine.get().device() + " (" + canonical + ") in " + (System.nanoTime() - start) / 1_000_000 + " ms");
          }
          return new Attachment(canonical, Map.of(DATA_VOLUME_ID, id, DATA_EC2_DEVICE, mine.get().device(), DATA_INSTANCE, me));
        }
        if (s == VolumeAttachmentState.DETACHING) {
          v = awaitVolume(a, id, ctx, "EBS volume " + label(name) + " (" + id + ") detaching from this instance before it"
              + " is attached again", x -> live(x).isEmpty());
        } else {
          v = awaitVolume(a, id, ctx, "EBS volume " + label(name) + " (" + id + ") attaching to " + me + " as "
              + mine.get().device(), x -> !attachingHere(x, me));
        }
        continue;
      }
      if (v.state() == VolumeState.CREATING) {
        v = awaitVolume(a, id, ctx, "EBS volume " + label(name) + " (" + id + ") being created",
            x -> x.state() != VolumeState.CREATING);
        continue;
      }
      if (v.state() != VolumeState.AVAILABLE) {
        throw DvdiException.provider(ctx.operation() + ": EBS volume " + label(name) + " (" + id + ") is in state '"
            + v.stateAsString() + "' and cannot be attached");
      }
      if (attachNew(a, name, v, ctx)) {
        asked = true;
        v = awaitVolume(a, id, ctx, "EBS volume " + label(name) + " (" + id + ") attaching to " + me,
            x -> !attachingHere(x, me));
      } else {
        v = byId(a, id, ctx).orElseThrow(() -> notFound(a, name)); // it changed meanwhile: look again
      }
    }
    throw DvdiException.provider(ctx.operation() + ": EBS volume " + label(name) + " (" + id + ") kept changing state"
        + " while being attached (last: " + state(v) + "); try again");
  }

  /**
   * Whether {@code v} is still on its way to this instance after AttachVolume: attaching,
   * or not showing the attachment yet (DescribeVolumes is eventually consistent).
   */
  private static boolean attachingHere(Volume v, String me) {
    List<VolumeAttachment> l = live(v);
    return l.isEmpty() && v.state() == VolumeState.AVAILABLE
        || l.stream().anyMatch(x -> me.equals(x.instanceId()) && x.state() == VolumeAttachmentState.ATTACHING);
  }

  /** Force-detaches the volume from other instances (preempt). */
  private void preempt(Aws a, String name, Volume v, List<VolumeAttachment> others, CallContext ctx) {
    for (VolumeAttachment x : others) {
      if (x.state() == VolumeAttachmentState.DETACHING) {
        continue;
      }
      LOG.warning(ctx.operation() + ": preempt: force-detaching EBS volume " + label(name) + " (" + v.volumeId()
          + ") from instance " + x.instanceId() + " (" + x.device() + ", " + x.stateAsString() + ")");
      try {
        a.api().call(ctx, "DetachVolume", o -> a.api().client().detachVolume(b -> b.volumeId(v.volumeId())
            .instanceId(x.instanceId()).device(x.device()).force(true).overrideConfiguration(o)));
      } catch (Ec2Api.Failure f) {
        if (!"InvalidAttachment.NotFound".equals(f.awsCode()) && !"IncorrectState".equals(f.awsCode())) {
          throw f;
        }
      }
    }
  }

  /**
   * Asks EC2 to attach {@code v} to this instance under a device name that neither the
   * instance's mappings, nor this host's /dev, nor another attach from this process uses.
   * Only picking and reserving the name holds {@link #deviceLock} ({@link #reserve}):
   * DescribeInstances and AttachVolume run outside it, so that a slow or throttled EC2 does not
   * make every other attach on this agent wait. A name EC2 calls in use is skipped. Returns
   * false when EC2 refused because the volume changed meanwhile (attached elsewhere, or not
   * available): the caller looks again.
   *
   * <p>The name stays reserved for the volume when EC2 attached it, and also when AttachVolume
   * ended without EC2's refusal (a timeout, a lost connection, a server error): it may have
   * attached under that name, so no other attach gets it before this volume is detached.
   */
  private boolean attachNew(Aws a, String name, Volume v, CallContext ctx) {
    String me = a.id().instanceId();
    String id = v.volumeId();
    Set<Character> taken = new TreeSet<>(mappedLetters(a, ctx));
    while (true) {
      char l = reserve(id, taken, name, me, ctx);
      String dev = cfg.deviceName(l);
      try {
        a.api().call(ctx, "AttachVolume", o -> a.api().client().attachVolume(b -> b.volumeId(id)
            .instanceId(me).device(dev).overrideConfiguration(o)));
      } catch (Ec2Api.Failure f) {
        if (!f.refused()) {
          throw f;
        }
        reserved.remove(l, id);
        if ("InvalidParameterValue".equals(f.awsCode()) && f.getMessage().contains("already in use")) {
          LOG.info(ctx.operation() + ": device name " + dev + " is in use on " + me + "; trying the next one");
          taken.add(l);
          continue;
        }
        if ("VolumeInUse".equals(f.awsCode()) || "IncorrectState".equals(f.awsCode())) {
          return false; // someone else was faster, or it changed state
        }
        throw f;
      }
      // Attached as l: other names an earlier, unanswered AttachVolume of it reserved are free.
      reserved.entrySet().removeIf(e -> id.equals(e.getValue()) && e.getKey() != l);
      return true;
    }
  }

  /**
   * Reserves for volume {@code id} the first letter of the device range that is not in
   * {@code taken} (the instance's mappings, names EC2 called in use), not in this host's /dev
   * and not reserved already (for any volume, this one too: two attaches of one volume at once
   * get two names, and the one EC2 refuses frees only its own).
   */
  private char reserve(String id, Set<Character> taken, String name, String me, CallContext ctx) {
    lock(deviceLock, ctx, "the device name lock");
    try {
      Set<Character> used = new TreeSet<>(taken);
      used.addAll(devices.localLetters());
      used.addAll(reserved.keySet());
      for (char l = cfg.firstLetter; l <= cfg.lastLetter; l++) {
        if (!used.contains(l)) {
          reserved.put(l, id);
          return l;
        }
      }
      throw DvdiException.provider(ctx.operation() + ": no free device name for EBS volume " + label(name) + " on " + me
          + ": " + cfg.deviceName(cfg.firstLetter) + " to " + cfg.deviceName(cfg.lastLetter) + " are all in use ("
          + used + "); widen providers.ebs.device-range or release volumes");
    } finally {
      deviceLock.unlock();
    }
  }

  /** Frees the device letters reserved for volume {@code id} (it is not attached here). */
  private void unreserve(String id) {
    reserved.values().removeIf(id::equals);
  }

  /** Letters of the device names in this instance's block device mappings. */
  private Set<Character> mappedLetters(Aws a, CallContext ctx) {
    String me = a.id().instanceId();
    List<Reservation> rs = a.api().call(ctx, "DescribeInstances", o -> a.api().client().describeInstances(b -> b
        .instanceIds(me).overrideConfiguration(o)).reservations());
    Set<Character> out = new TreeSet<>();
    for (Reservation r : rs) {
      for (Instance i : r.instances()) {
        for (InstanceBlockDeviceMapping m : i.blockDeviceMappings()) {
          DeviceDiscovery.letter(m.deviceName()).ifPresent(out::add);
        }
      }
    }
    return out;
  }

  @Override
  public MountedVolume mount(String name, VolumeOptions options, Attachment attachment, CallContext ctx) {
    String dev = attachment.device();
    if (dev.isEmpty()) {
      String id = attachment.providerData().get(DATA_VOLUME_ID);
      String ec2 = attachment.providerData().getOrDefault(DATA_EC2_DEVICE, "");
      if (id == null) {
        throw DvdiException.internal("mount of EBS volume " + label(name) + " without an attachment (no device, no volume id)", null);
      }
      dev = devices.find(id, ec2).map(Path::toString).orElseThrow(() -> DvdiException.provider(ctx.operation()
          + ": EBS volume " + label(name) + " (" + id + ") has no block device on this host: is it attached?"));
    }
    return block.mountAttached(dev, attachment, mountRoot.resolve(name), options, ctx);
  }

  // ------------------------------------------------------------------ unmount, detach, remove

  @Override
  public void unmount(VolumeHandle volume, CallContext ctx) {
    block.unmount(volume, mountRoot.resolve(volume.name()), ctx);
  }

  @Override
  public void detach(VolumeHandle volume, CallContext ctx) {
    Aws a = aws(ctx);
    String me = a.id().instanceId();
    String name = volume.name();
    String known = volume.providerData().get(DATA_VOLUME_ID);
    Optional<Volume> found;
    if (known != null) {
      found = byId(a, known, ctx);
    } else {
      // No record of the attach (it never finished): whichever volume of that name is here.
      List<Volume> named = byName(a, name, ctx);
      found = named.stream().filter(v -> live(v).stream().anyMatch(x -> me.equals(x.instanceId()))).findFirst();
      if (found.isEmpty()) {
        named.forEach(v -> unreserve(v.volumeId()));
      }
    }
    if (found.isEmpty()) {
      if (known != null) {
        unreserve(known);
      }
      return;
    }
    Volume v = found.get();
    String id = v.volumeId();
    Optional<VolumeAttachment> mine = live(v).stream().filter(x -> me.equals(x.instanceId())).findFirst();
    if (mine.isEmpty()) {
      unreserve(id);
      return; // not attached here (maybe taken over by another instance: not ours to touch)
    }
    Optional<Path> dev = devices.find(id, mine.get().device());
    if (dev.isPresent()) {
      BlockVolumes.checkNotMounted(dev.get().toString(), "EBS volume " + label(name) + " (" + id + ")");
    }
    long start = System.nanoTime();
    if (mine.get().state() != VolumeAttachmentState.DETACHING) {
      try {
        a.api().call(ctx, "DetachVolume", o -> a.api().client().detachVolume(b -> b.volumeId(id).instanceId(me)
            .device(mine.get().device()).overrideConfiguration(o)));
      } catch (Ec2Api.Failure f) {
        if (!"InvalidAttachment.NotFound".equals(f.awsCode()) && !"IncorrectState".equals(f.awsCode())
            && f.getCode() != ErrorCode.VOLUME_NOT_FOUND) {
          throw f;
        }
      }
    }
    awaitGone(a, id, ctx, "EBS volume " + label(name) + " (" + id + ") detaching from " + me,
        x -> live(x).stream().noneMatch(y -> me.equals(y.instanceId())));
    unreserve(id);
    LOG.info(ctx.operation() + ": detached EBS volume " + label(name) + " " + id + " from " + me + " in "
        + (System.nanoTime() - start) / 1_000_000 + " ms");
  }

  @Override
  public void remove(String name, CallContext ctx) {
    Aws a = aws(ctx);
    Volume v = find(a, name, ctx).orElseThrow(() -> notFound(a, name));
    if (!managed(v)) {
      throw DvdiException.invalid(ctx.operation() + ": EBS volume " + label(name) + " (" + v.volumeId() + ") was not"
          + " created by dvdi (no " + TAG_MANAGED + " tag); dvdi removes only volumes it created");
    }
    List<VolumeAttachment> att = live(v);
    if (!att.isEmpty()) {
      throw DvdiException.busy(ctx.operation() + ": EBS volume " + label(name) + " (" + v.volumeId() + ") is attached to "
          + describe(att) + "; release it first");
    }
    try {
      a.api().call(ctx, "DeleteVolume", o -> a.api().client().deleteVolume(b -> b.volumeId(v.volumeId())
          .overrideConfiguration(o)));
    } catch (Ec2Api.Failure f) {
      if (f.getCode() != ErrorCode.VOLUME_NOT_FOUND) {
        throw f;
      }
    }
    LOG.info(ctx.operation() + ": removed EBS volume " + label(name) + " " + v.volumeId());
  }

  // ------------------------------------------------------------------ grow

  /**
   * Grows a mounted volume to {@code newSizeBytes} while it is in use: ModifyVolume, a wait
   * until EC2 says the new size is usable ("optimizing" or "completed") and the block device
   * shows it, then the filesystem is grown online ({@code resize2fs} for ext3/ext4,
   * {@code xfs_growfs} for xfs). A volume already that large only has its filesystem grown,
   * so a repeated call finishes an interrupted one. EC2 allows one modification per volume
   * every 6 hours; a refusal says so.
   *
   * <p>Not in the SPI yet: this is what dvdi's self-remediation (volumes that grow before
   * they fill up) would call.
   */
  public VolumeInfo grow(VolumeHandle volume, long newSizeBytes, CallContext ctx) {
    String name = volume.name();
    if (newSizeBytes <= 0 || newSizeBytes % Sizes.GIB != 0) {
      throw DvdiException.invalid("new size of EBS volume " + label(name) + " is " + Sizes.format(newSizeBytes)
          + ": EBS sizes are whole GiB");
    }
    if (volume.hostPath().isEmpty() || !KernelMounts.read().isMountPoint(Path.of(volume.hostPath()))) {
      throw DvdiException.invalid("EBS volume " + label(name) + " is not mounted here: only a mounted volume is grown");
    }
    Aws a = aws(ctx);
    String known = volume.providerData().get(DATA_VOLUME_ID);
    Volume v = (known != null ? byId(a, known, ctx) : find(a, name, ctx)).orElseThrow(() -> notFound(a, name));
    String id = v.volumeId();
    int gib = (int) Math.min(Integer.MAX_VALUE, newSizeBytes / Sizes.GIB);
    VolumeTypes.Type type = VolumeTypes.of(v.volumeTypeAsString()).orElse(null);
    if (type != null && gib > type.maxGiB()) {
      throw DvdiException.invalid("new size of EBS volume " + label(name) + " is " + gib + " GiB: a " + type.name()
          + " volume is at most " + type.maxGiB() + " GiB");
    }
    if (v.size() != null && gib < v.size()) {
      throw DvdiException.invalid("new size of EBS volume " + label(name) + " is " + gib + " GiB, smaller than its "
          + v.size() + " GiB: EBS volumes only grow");
    }
    long start = System.nanoTime();
    if (v.size() == null || gib > v.size()) {
      try {
        a.api().call(ctx, "ModifyVolume", o -> a.api().client().modifyVolume(b -> b.volumeId(id).size(gib)
            .overrideConfiguration(o)));
      } catch (Ec2Api.Failure f) {
        if ("IncorrectModificationState".equals(f.awsCode()) || "VolumeModificationRateExceeded".equals(f.awsCode())) {
          throw DvdiException.provider(f.getMessage() + ". EC2 modifies a volume at most once every 6 hours (and not"
              + " while an earlier modification is under way)", f);
        }
        throw f;
      }
    }
    backoff.until(ctx, "EBS volume " + label(name) + " (" + id + ") growing to " + gib + " GiB", () -> {
      List<VolumeModification> mods = a.api().call(ctx,
          "DescribeVolumesModifications", o -> a.api().client().describeVolumesModifications(b -> b.volumeIds(id)
              .overrideConfiguration(o)).volumesModifications());
      for (VolumeModification m : mods) {
        if (m.modificationState() == VolumeModificationState.FAILED) {
          throw DvdiException.provider(ctx.operation() + ": EC2 could not grow EBS volume " + label(name) + " (" + id
              + "): " + m.statusMessage());
        }
      }
      boolean usable = mods.isEmpty() || mods.stream().allMatch(m -> m.modificationState()
          != VolumeModificationState.MODIFYING);
      return usable ? Optional.of(Boolean.TRUE) : Optional.empty();
    }, () -> "modifying");
    String dev = BlockVolumes.canonical(volume.device().isEmpty()
        ? KernelMounts.read().at(Path.of(volume.hostPath())).orElseThrow().source() : volume.device());
    backoff.until(ctx, "block device " + dev + " of EBS volume " + label(name) + " showing " + gib + " GiB",
        () -> deviceBytes(dev, ctx) >= newSizeBytes ? Optional.of(Boolean.TRUE) : Optional.empty(),
        () -> Sizes.format(deviceBytes(dev, ctx)));
    String fs = KernelMounts.read().at(Path.of(volume.hostPath())).orElseThrow().fsType();
    List<String> argv;
    switch (fs) {
      case "ext4":
      case "ext3":
        argv = List.of("resize2fs", dev);
        break;
      case "xfs":
        argv = List.of("xfs_growfs", volume.hostPath());
        break;
      default:
        throw DvdiException.provider(ctx.operation() + ": EBS volume " + label(name) + " grew to " + gib + " GiB, but dvdi"
            + " cannot grow its " + fs + " filesystem");
    }
    Commands.Result r = commands.run(argv, ctx);
    if (!r.ok()) {
      String d = r.diagnostics();
      throw DvdiException.provider(ctx.operation() + ": EBS volume " + label(name) + " (" + id + ") grew to " + gib
          + " GiB, but growing its " + fs + " filesystem failed: " + String.join(" ", r.argv()) + " exited "
          + r.exitCode() + ": " + d + (d.contains("Permission denied") ? " (growing a mounted ext4 filesystem needs"
          + " CAP_SYS_RESOURCE, which this process lacks)" : "") + "; the next grow call tries the filesystem again");
    }
    LOG.info(ctx.operation() + ": grew EBS volume " + label(name) + " " + id + " and its " + fs + " filesystem to " + gib
        + " GiB in " + (System.nanoTime() - start) / 1_000_000 + " ms");
    return info(name, byId(a, id, ctx).orElseThrow(() -> notFound(a, name)));
  }

  private long deviceBytes(String dev, CallContext ctx) {
    Commands.Result r = commands.check(List.of("blockdev", "--getsize64", dev), ctx,
        "reading the size of " + dev);
    try {
      return Long.parseLong(r.stdout().strip());
    } catch (NumberFormatException e) {
      throw DvdiException.provider("blockdev --getsize64 " + dev + " printed '" + r.stdout().strip() + "'");
    }
  }

  @Override
  public void close() {
    Aws a = aws;
    if (a != null) {
      a.api().close();
    }
  }

  @Override
  public String toString() {
    return "EbsProvider[driver=" + driver + ", " + cfg + "]";
  }

  // ------------------------------------------------------------------ helpers

  /** The EC2 client and identity, made once (waiting for another thread at most until the deadline). */
  private Aws aws(CallContext ctx) {
    Aws a = aws;
    if (a != null) {
      return a;
    }
    lock(initLock, ctx, "the EC2 client's initialisation");
    try {
      if (aws == null) {
        InstanceMetadata.Identity id = metadata.resolve(cfg, ctx);
        aws = new Aws(new Ec2Api(cfg, id.region(), hooks), id);
        LOG.info("EBS provider for driver '" + driver + "': instance " + id.instanceId() + " in "
            + id.availabilityZone() + "; " + cfg);
      }
      return aws;
    } finally {
      initLock.unlock();
    }
  }

  private static void lock(ReentrantLock lock, CallContext ctx, String what) {
    try {
      if (!lock.tryLock(Math.max(0, ctx.remaining().toMillis()), TimeUnit.MILLISECONDS)) {
        throw DvdiException.timeout(ctx.operation() + ": " + what + " was not free before the call's deadline");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw DvdiException.timeout(ctx.operation() + ": interrupted waiting for " + what);
    }
  }

  /**
   * The one live volume named {@code name}; empty when there is none. Two or more are
   * refused (which one holds the data?), and so is a volume dvdi did not create unless
   * adopt-unmanaged is set.
   */
  private Optional<Volume> find(Aws a, String name, CallContext ctx) {
    List<Volume> vols = byName(a, name, ctx);
    if (vols.isEmpty()) {
      return Optional.empty();
    }
    if (vols.size() > 1) {
      throw DvdiException.provider(ctx.operation() + ": " + vols.size() + " EBS volumes are named '" + name + "' ("
          + vols.stream().map(v -> v.volumeId() + " in " + v.availabilityZone() + ", created " + v.createTime()
          + ", " + v.stateAsString()).collect(Collectors.joining("; ")) + "). dvdi cannot tell which one holds the"
          + " data and uses none: delete or rename (Name tag) all but one");
    }
    Volume v = vols.get(0);
    if (!managed(v) && !cfg.adoptUnmanaged) {
      throw DvdiException.invalid(ctx.operation() + ": EBS volume " + v.volumeId() + " is named '" + name + "' but was"
          + " not created by dvdi (no " + TAG_MANAGED + " tag), so dvdi leaves it alone. To use volumes made by"
          + " REX-Ray or by hand, set providers.ebs.adopt-unmanaged=true; otherwise pick another name");
    }
    return Optional.of(v);
  }

  private List<Volume> byName(Aws a, String name, CallContext ctx) {
    return describe(a, ctx, Filter.builder().name("tag:" + TAG_NAME).values(name).build());
  }

  private Optional<Volume> byId(Aws a, String id, CallContext ctx) {
    try {
      List<Volume> l = a.api().call(ctx, "DescribeVolumes", o -> a.api().client().describeVolumes(b -> b
          .volumeIds(id).overrideConfiguration(o)).volumes());
      return l.stream().filter(v -> LIVE.contains(v.stateAsString())).findFirst();
    } catch (Ec2Api.Failure f) {
      if (f.getCode() == ErrorCode.VOLUME_NOT_FOUND) {
        return Optional.empty();
      }
      throw f;
    }
  }

  /** Live volumes matching {@code filter}, all pages. */
  private List<Volume> describe(Aws a, CallContext ctx, Filter filter) {
    return a.api().call(ctx, "DescribeVolumes", o -> {
      List<Volume> out = new ArrayList<>();
      a.api().client().describeVolumesPaginator(b -> b.filters(filter, Filter.builder().name("status").values(LIVE).build())
          .overrideConfiguration(o)).volumes().forEach(out::add);
      return out;
    });
  }

  /** Polls the volume until {@code done}; it vanishing is VOLUME_NOT_FOUND. */
  private Volume awaitVolume(Aws a, String id, CallContext ctx, String what, Predicate<Volume> done) {
    Volume[] last = new Volume[1];
    return backoff.until(ctx, what, () -> {
      Volume v = byId(a, id, ctx).orElseThrow(() -> DvdiException.notFound(ctx.operation() + ": EBS volume " + id
          + " disappeared while waiting for: " + what));
      last[0] = v;
      return done.test(v) ? Optional.of(v) : Optional.empty();
    }, () -> state(last[0]));
  }

  /** As {@link #awaitVolume}, but the volume vanishing (deleted meanwhile) also ends the wait. */
  private void awaitGone(Aws a, String id, CallContext ctx, String what, Predicate<Volume> done) {
    Volume[] last = new Volume[1];
    backoff.until(ctx, what, () -> {
      Optional<Volume> v = byId(a, id, ctx);
      v.ifPresent(x -> last[0] = x);
      return v.isEmpty() || done.test(v.get()) ? Optional.of(Boolean.TRUE) : Optional.empty();
    }, () -> state(last[0]));
  }

  /** Attachments that hold the volume (everything but "detached"). */
  private static List<VolumeAttachment> live(Volume v) {
    return v.attachments().stream().filter(x -> x.state() != VolumeAttachmentState.DETACHED).collect(Collectors.toList());
  }

  private static String describe(List<VolumeAttachment> att) {
    return att.stream().map(x -> "instance " + x.instanceId() + " as " + x.device() + " (" + x.stateAsString() + ")")
        .collect(Collectors.joining(", "));
  }

  private static String state(Volume v) {
    if (v == null) {
      return "unknown (no answer yet)";
    }
    List<VolumeAttachment> l = live(v);
    return "'" + v.stateAsString() + "'" + (l.isEmpty() ? "" : ", attachments: " + describe(l));
  }

  private static boolean managed(Volume v) {
    return tag(v, TAG_MANAGED).isPresent();
  }

  private static Optional<String> tag(Volume v, String key) {
    return v.tags().stream().filter(t -> key.equals(t.key())).map(Tag::value).findFirst();
  }

  private DvdiException notFound(Aws a, String name) {
    return DvdiException.notFound("EBS volume " + label(name) + " does not exist (no live volume with tag Name="
        + name + " in " + a.id().region() + ")");
  }

  private String label(String name) {
    return driver + "/" + name;
  }

  private VolumeInfo info(String name, Volume v) {
    Map<String, String> d = new TreeMap<>();
    d.put("availability-zone", v.availabilityZone());
    d.put("type", v.volumeTypeAsString());
    if (v.iops() != null) {
      d.put("iops", v.iops().toString());
    }
    if (v.throughput() != null) {
      d.put("throughput", v.throughput().toString());
    }
    d.put("encrypted", String.valueOf(Boolean.TRUE.equals(v.encrypted())));
    if (v.kmsKeyId() != null) {
      d.put("kms-key-id", v.kmsKeyId());
    }
    d.put("managed", String.valueOf(managed(v)));
    Instant created = v.createTime();
    if (created != null) {
      d.put("created", created.toString());
    }
    List<VolumeAttachment> att = live(v);
    if (!att.isEmpty()) {
      d.put("ec2-device", att.get(0).device());
      d.put("attachment-state", att.get(0).stateAsString());
    }
    long size = v.size() == null ? -1 : v.size() * Sizes.GIB;
    return new VolumeInfo(driver, name, v.volumeId(), size, v.stateAsString(),
        att.stream().map(VolumeAttachment::instanceId).collect(Collectors.joining(",")), d);
  }
}
