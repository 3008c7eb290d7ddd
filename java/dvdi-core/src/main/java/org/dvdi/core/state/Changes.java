package org.dvdi.core.state;

import java.util.ArrayList;
import java.util.List;
import org.dvdi.core.state.proto.Change;
import org.dvdi.core.state.proto.Container;
import org.dvdi.core.state.proto.Volume;

/** The changes one mutation makes; written as one journal record (all or nothing). */
public final class Changes {
  private final List<Change> list = new ArrayList<>();

  public Changes putVolume(Volume v) {
    list.add(Change.newBuilder().setPutVolume(v).build());
    return this;
  }

  public Changes removeVolume(VolumeKey k) {
    list.add(Change.newBuilder().setRemoveVolume(k.toProto()).build());
    return this;
  }

  public Changes putContainer(Container c) {
    list.add(Change.newBuilder().setPutContainer(c).build());
    return this;
  }

  public Changes removeContainer(String id) {
    list.add(Change.newBuilder().setRemoveContainer(id).build());
    return this;
  }

  public boolean isEmpty() {
    return list.isEmpty();
  }

  List<Change> list() {
    return list;
  }
}
