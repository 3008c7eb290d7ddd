package org.dvdi.core.state;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.dvdi.core.state.proto.Change;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.Volume;
import org.dvdi.core.state.proto.VolumeUse;

/** The mount table: volumes on this host and the containers that use them. */
public final class StateView {
  private final Map<VolumeKey, Volume> volumes;
  private final Map<String, Container> containers;

  StateView(Map<VolumeKey, Volume> volumes, Map<String, Container> containers) {
    this.volumes = volumes;
    this.containers = containers;
  }

  /** An empty, mutable table (for the store's own use). */
  static StateView mutableEmpty() {
    return new StateView(new TreeMap<>(), new TreeMap<>());
  }

  /** An unmodifiable copy. */
  StateView copy() {
    return new StateView(Collections.unmodifiableMap(new TreeMap<>(volumes)),
        Collections.unmodifiableMap(new TreeMap<>(containers)));
  }

  /** An unmodifiable view of this (mutable) table without copying. */
  StateView readOnly() {
    return new StateView(Collections.unmodifiableMap(volumes), Collections.unmodifiableMap(containers));
  }

  void apply(Change c) {
    switch (c.getChangeCase()) {
      case PUT_VOLUME:
        volumes.put(VolumeKey.of(c.getPutVolume()), c.getPutVolume());
        break;
      case REMOVE_VOLUME:
        volumes.remove(VolumeKey.of(c.getRemoveVolume()));
        break;
      case PUT_CONTAINER:
        containers.put(c.getPutContainer().getId(), c.getPutContainer());
        break;
      case REMOVE_CONTAINER:
        containers.remove(c.getRemoveContainer());
        break;
      default:
        break; // a change of a newer minor format: ignored
    }
  }

  void clear() {
    volumes.clear();
    containers.clear();
  }

  public Map<VolumeKey, Volume> volumes() {
    return volumes;
  }

  public Map<String, Container> containers() {
    return containers;
  }

  public Volume volume(VolumeKey k) {
    return volumes.get(k);
  }

  public Container container(String id) {
    return containers.get(id);
  }

  /** Containers holding a reference on {@code k}, sorted. */
  public List<String> users(VolumeKey k) {
    List<String> out = new ArrayList<>();
    for (Container c : containers.values()) {
      for (VolumeUse u : c.getUsesList()) {
        if (u.getAcquired() && u.getDriver().equals(k.driver()) && u.getName().equals(k.name())) {
          out.add(c.getId());
          break;
        }
      }
    }
    return out;
  }

  /** Containers holding a reference on {@code k}, other than {@code except}. */
  public int otherUsers(VolumeKey k, String except) {
    int n = 0;
    for (String id : users(k)) {
      if (!id.equals(except)) {
        n++;
      }
    }
    return n;
  }
}
