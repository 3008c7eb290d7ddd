package org.dvdi.core.sim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.dvdi.core.seams.SimHost;
import org.dvdi.spi.host.KernelMounts;

/** {@link SimHostOps} over a {@link SimHost}: device nodes under {@code /dev/sim}, mounts in its table. */
final class SimHostAdapter implements SimHostOps {
  static final String NODES = "/dev/sim";

  private final String id;
  private final SimHost host;

  SimHostAdapter(String id, SimHost host) {
    this.id = id;
    this.host = host;
  }

  @Override
  public String hostId() {
    return id;
  }

  @Override
  public String nodePath(String volume) {
    return NODES + "/" + volume.replace('/', '.');
  }

  @Override
  public String addNode(String volume) {
    io(() -> {
      host.mkdirs(Path.of(NODES));
      host.createNode(Path.of(nodePath(volume)));
    });
    return nodePath(volume);
  }

  @Override
  public void removeNode(String path) {
    host.removeNode(Path.of(path));
  }

  @Override
  public boolean nodeExists(String path) {
    try {
      host.stat(Path.of(path), true);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void mountDevice(String node, String target) {
    io(() -> {
      host.mkdirs(Path.of(target));
      host.mount(Path.of(node), Path.of(target));
    });
  }

  @Override
  public void mountFs(String target) {
    io(() -> {
      host.mkdirs(Path.of(target));
      host.mountNew("simplugin", "tmpfs", Path.of(target));
    });
  }

  @Override
  public void umount(String target) {
    host.umount(Path.of(target));
  }

  @Override
  public String mountedAt(String target) {
    return host.mountTable().at(Path.of(target)).map(KernelMounts.Mount::source).orElse(null);
  }

  @Override
  public boolean deviceMounted(String node) {
    return !host.mountTable().ofSource(node).isEmpty();
  }

  @Override
  public void mkdirs(String path) {
    io(() -> {
      host.mkdirs(Path.of(path));
    });
  }

  private interface IoAction {
    void run() throws IOException;
  }

  private static void io(IoAction a) {
    try {
      a.run();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
