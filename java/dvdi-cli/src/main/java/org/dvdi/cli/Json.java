package org.dvdi.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.dvdi.core.state.StateView;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.Option;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeStatus;
import org.dvdi.core.state.proto.VolumeUse;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.host.HostInfo;

/** JSON forms of state records and provider volumes, one place for the CLI's field names. */
final class Json {
  private Json() {}

  /** A volume's status in words: mounted, attaching, releasing, release-failed, stale (before the last reboot), pinned. */
  static String status(Volume v) {
    if (!v.getBootId().isEmpty() && !v.getBootId().equals(HostInfo.bootId())) {
      return "stale";
    }
    if (v.getStatus() == VolumeStatus.RELEASING && !v.getLastError().isEmpty()) {
      return "release-failed";
    }
    String s = v.getStatus().name().toLowerCase(java.util.Locale.ROOT);
    return v.getPinned() ? s + ",pinned" : s;
  }

  static ObjectNode volume(Volume v, StateView view) {
    ObjectNode o = Output.JSON.createObjectNode();
    o.put("driver", v.getDriver());
    o.put("name", v.getName());
    o.put("status", status(v));
    o.put("host_path", v.getHostPath());
    o.put("device", v.getDevice());
    ObjectNode opts = o.putObject("options");
    for (Option opt : v.getOptionsList()) {
      opts.put(opt.getKey(), opt.getValue());
    }
    ObjectNode data = o.putObject("provider_data");
    v.getProviderDataMap().forEach(data::put);
    o.put("boot_id", v.getBootId());
    o.put("since", Main.time(v.getSinceMs()));
    o.put("pinned", v.getPinned());
    if (!v.getLastError().isEmpty()) {
      o.put("last_error", v.getLastError());
      o.put("last_error_at", Main.time(v.getLastErrorMs()));
    }
    ArrayNode users = o.putArray("containers");
    view.users(VolumeKey.of(v)).forEach(users::add);
    o.put("refs", users.size());
    return o;
  }

  static ObjectNode container(Container c) {
    ObjectNode o = Output.JSON.createObjectNode();
    o.put("container_id", c.getId());
    o.put("status", c.getStatus().name().toLowerCase(java.util.Locale.ROOT));
    o.put("since", Main.time(c.getSinceMs()));
    ArrayNode uses = o.putArray("volumes");
    for (VolumeUse u : c.getUsesList()) {
      ObjectNode x = uses.addObject();
      x.put("volume", u.getDriver() + "/" + u.getName());
      x.put("container_path", u.getContainerPath());
      x.put("target", u.getTarget());
      x.put("read_only", u.getReadOnly());
      x.put("acquired", u.getAcquired());
    }
    return o;
  }

  static ObjectNode providerVolume(VolumeInfo v) {
    ObjectNode o = Output.JSON.createObjectNode();
    o.put("driver", v.driver());
    o.put("name", v.name());
    o.put("id", v.id());
    o.put("size_bytes", v.sizeBytes());
    o.put("status", v.status());
    o.put("attached_to", v.attachedTo());
    ObjectNode d = o.putObject("details");
    v.details().forEach(d::put);
    return o;
  }
}
