package org.dvdi.spi.testing;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.dvdi.spi.host.KernelMounts;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class that leaves a mount or a loop device behind: compares the kernel's mount
 * table and the attached loop devices after the class with those before it. Only what lies
 * under the tests' temporary directory ({@code java.io.tmpdir}, which the build points at each
 * module's target directory) or in this build's directories under {@code /tmp} ({@link TmpDirs})
 * counts, so that other work on the same host is not blamed.
 */
public final class LeakCheck implements BeforeAllCallback, AfterAllCallback {
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LeakCheck.class);

  @Override
  public void beforeAll(ExtensionContext ctx) {
    ctx.getStore(NS).put("mounts", mounts());
    ctx.getStore(NS).put("loops", loops());
  }

  @Override
  @SuppressWarnings("unchecked")
  public void afterAll(ExtensionContext ctx) {
    Set<String> mountsBefore = (Set<String>) ctx.getStore(NS).get("mounts");
    Set<String> loopsBefore = (Set<String>) ctx.getStore(NS).get("loops");
    if (mountsBefore == null) {
      return;
    }
    Set<String> newMounts = mounts();
    newMounts.removeAll(mountsBefore);
    Set<String> newLoops = loops();
    newLoops.removeAll(loopsBefore);
    if (!newMounts.isEmpty() || !newLoops.isEmpty()) {
      throw new AssertionError(ctx.getDisplayName() + " leaked: mounts " + newMounts + ", loop devices " + newLoops);
    }
  }

  private static final String SCOPE = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().normalize() + "/";

  private static boolean inScope(String path) {
    return path.startsWith(SCOPE) || TmpDirs.ours(path);
  }

  /** Mount points under the tests' temporary directories, with their sources. */
  public static Set<String> mounts() {
    Set<String> out = new TreeSet<>();
    for (KernelMounts.Mount m : KernelMounts.read().all()) {
      if (inScope(m.mountPoint())) {
        out.add(m.mountPoint() + " <- " + m.source());
      }
    }
    return out;
  }

  /** Attached loop devices whose backing files are under the tests' temporary directories. */
  public static Set<String> loops() {
    Set<String> out = new TreeSet<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/sys/block"), "loop*")) {
      for (Path d : ds) {
        Path bf = d.resolve("loop/backing_file");
        if (Files.isReadable(bf)) {
          try {
            String file = Files.readString(bf).trim();
            if (inScope(file)) {
              out.add("/dev/" + d.getFileName() + " <- " + file);
            }
          } catch (IOException e) {
            // detached meanwhile
          }
        }
      }
    } catch (IOException e) {
      throw new AssertionError("cannot list loop devices", e);
    }
    return out;
  }
}
