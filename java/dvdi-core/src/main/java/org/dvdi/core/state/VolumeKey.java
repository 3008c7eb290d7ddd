package org.dvdi.core.state;

/** The identity of a volume on a host: its driver and its name. */
public record VolumeKey(String driver, String name) implements Comparable<VolumeKey> {
  public static VolumeKey of(org.dvdi.core.state.proto.Volume v) {
    return new VolumeKey(v.getDriver(), v.getName());
  }

  public static VolumeKey of(org.dvdi.core.state.proto.VolumeUse u) {
    return new VolumeKey(u.getDriver(), u.getName());
  }

  public static VolumeKey of(org.dvdi.core.state.proto.VolumeKey k) {
    return new VolumeKey(k.getDriver(), k.getName());
  }

  /** Parses "driver/name". */
  public static VolumeKey parse(String s) {
    int i = s.indexOf('/');
    if (i <= 0 || i == s.length() - 1) {
      throw org.dvdi.spi.DvdiException.invalid("'" + s + "' is not a volume: expected <driver>/<name>");
    }
    return new VolumeKey(s.substring(0, i), s.substring(i + 1));
  }

  public org.dvdi.core.state.proto.VolumeKey toProto() {
    return org.dvdi.core.state.proto.VolumeKey.newBuilder().setDriver(driver).setName(name).build();
  }

  @Override
  public int compareTo(VolumeKey o) {
    int c = driver.compareTo(o.driver);
    return c != 0 ? c : name.compareTo(o.name);
  }

  @Override
  public String toString() {
    return driver + "/" + name;
  }
}
