package org.dvdi.core.sim;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.dvdi.core.seams.SimScheduler;
import org.dvdi.core.sim.SimStorage.Outcome;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;

/**
 * Simulated providers over the simulated host and storage, with the two shapes dvdi meets:
 * {@code simblock} (dvdi attaches a block device and mounts it: EBS, loop; {@code
 * kernelMounts} true) and {@code simplugin} (the provider mounts by itself and answers a path
 * inside its mount, as REX-Ray does; no device, {@code kernelMounts} false). Each call goes as
 * the storage's fault plan says: done, failed, done then failed, late, hung. A call takes its
 * time on the calling process's simulated thread; a call of a killed process does nothing more.
 */
public final class SimProviderFactory implements ProviderFactory {
  public static final String BLOCK = "simblock";
  public static final String PLUGIN = "simplugin";

  private final String type;
  private final SimStorage storage;
  private final SimHostOps host;
  private final SimScheduler process;

  public SimProviderFactory(String type, SimStorage storage, SimHostOps host, SimScheduler process) {
    this.type = type;
    this.storage = storage;
    this.host = host;
    this.process = process;
  }

  /** Both types, for one process on one host. */
  public static List<org.dvdi.spi.ProviderFactory> both(SimStorage storage, SimHostOps host, SimScheduler process) {
    return List.of(new SimProviderFactory(BLOCK, storage, host, process), new SimProviderFactory(PLUGIN, storage, host, process));
  }

  @Override
  public String getName() {
    return type;
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext ctx) {
    Path mountRoot = ctx.mountRoot();
    boolean plugin = type.equals(PLUGIN);
    String base = "/sim/plugin/" + driver;
    return new VolumeProvider() {
      String id(String name) {
        return driver + "/" + name;
      }

      /** Takes the call's time, then says whether its work is done; throws for the failures. */
      void call(String what, CallContext c, Runnable work) {
        Outcome o = storage.next();
        Duration timeout = c.remaining();
        switch (o) {
          case FAIL -> throw DvdiException.provider("simulated failure of " + what);
          case LATE -> process.sleep(timeout.multipliedBy(2).plusSeconds(1));
          case HANG -> process.sleep(SimStorage.HANG);
          default -> {
            if (process.runtime().random().nextInt(4) == 0) {
              process.sleep(Duration.ofMillis(5)); // some calls take a moment: other work runs meanwhile
            }
          }
        }
        process.check(); // a killed process does nothing more
        if (o == Outcome.TIMEOUT) {
          process.sleep(timeout);
          process.check();
          if (process.runtime().random().nextBoolean()) {
            work.run();
          }
          throw DvdiException.timeout("simulated: no answer to " + what + " within its deadline");
        }
        work.run();
        if (o == Outcome.FAIL_AFTER) {
          throw DvdiException.provider("simulated failure of " + what + " after it was done");
        }
      }

      @Override
      public String driver() {
        return driver;
      }

      @Override
      public Capabilities capabilities() {
        return new Capabilities(!plugin);
      }

      @Override
      public void validate(String name, VolumeOptions options) {}

      @Override
      public Optional<VolumeInfo> inspect(String name, CallContext c) {
        boolean[] e = {false};
        call("inspect " + id(name), c, () -> e[0] = storage.exists.contains(id(name)));
        return e[0] ? Optional.of(new VolumeInfo(driver, name, id(name), 1 << 20, "", storage.attachedTo.getOrDefault(id(name), ""),
            Map.of())) : Optional.empty();
      }

      @Override
      public List<VolumeInfo> list(CallContext c) {
        return storage.exists.stream().filter(v -> v.startsWith(driver + "/"))
            .map(v -> new VolumeInfo(driver, v.substring(driver.length() + 1), v, 1 << 20, "", "", Map.of())).toList();
      }

      @Override
      public VolumeInfo create(String name, VolumeOptions options, CallContext c) {
        call("create " + id(name), c, () -> storage.exists.add(id(name)));
        return new VolumeInfo(driver, name, id(name), 1 << 20, "", "", Map.of());
      }

      @Override
      public Attachment attach(String name, VolumeOptions options, CallContext c) {
        if (plugin) {
          return Attachment.NONE;
        }
        String[] node = {null};
        call("attach " + id(name), c, () -> {
          String holder = storage.attachedTo.get(id(name));
          if (holder != null && !holder.equals(host.hostId())) {
            throw DvdiException.busy(id(name) + " is attached to " + holder);
          }
          storage.attachedTo.put(id(name), host.hostId());
          node[0] = host.nodeExists(host.nodePath(id(name))) ? host.nodePath(id(name)) : host.addNode(id(name));
        });
        return new Attachment(node[0], Map.of());
      }

      @Override
      public MountedVolume mount(String name, VolumeOptions options, Attachment att, CallContext c) {
        String[] path = {null};
        call("mount " + id(name), c, () -> {
          if (plugin) {
            String dir = base + "/" + name;
            if (host.mountedAt(dir) == null) {
              host.mountFs(dir);
            }
            host.mkdirs(dir + "/data");
            path[0] = dir + "/data";
            return;
          }
          String target = mountRoot.resolve(driver).resolve(name).toString();
          String there = host.mountedAt(target);
          if (there != null && !there.equals(att.device())) {
            throw DvdiException.provider("cannot mount " + att.device() + " at " + target + ": " + there + " is mounted there");
          }
          if (!host.nodeExists(att.device())) {
            throw DvdiException.provider(att.device() + " does not exist");
          }
          if (there == null) {
            host.mountDevice(att.device(), target);
          }
          path[0] = target;
        });
        return new MountedVolume(path[0], plugin ? "" : att.device(), Map.of());
      }

      @Override
      public void unmount(VolumeHandle v, CallContext c) {
        call("unmount " + id(v.name()), c, () -> {
          String target = plugin ? base + "/" + v.name() : mountRoot.resolve(driver).resolve(v.name()).toString();
          if (host.mountedAt(target) != null) {
            host.umount(target);
          }
        });
      }

      @Override
      public void detach(VolumeHandle v, CallContext c) {
        if (plugin) {
          return;
        }
        call("detach " + id(v.name()), c, () -> {
          if (!host.hostId().equals(storage.attachedTo.get(id(v.name())))) {
            return; // not attached here: done
          }
          String node = host.nodePath(id(v.name()));
          if (host.nodeExists(node)) {
            if (host.deviceMounted(node)) {
              throw DvdiException.busy(node + " is still mounted");
            }
            host.removeNode(node);
          }
          storage.attachedTo.remove(id(v.name()));
        });
      }

      @Override
      public void remove(String name, CallContext c) {
        call("remove " + id(name), c, () -> {
          if (storage.attachedTo.containsKey(id(name))) {
            throw DvdiException.busy(id(name) + " is attached");
          }
          storage.exists.remove(id(name));
        });
      }
    };
  }
}
