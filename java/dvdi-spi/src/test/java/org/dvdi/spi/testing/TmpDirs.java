package org.dvdi.spi.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * Where the tests' temporary directories go: under the host's {@code /tmp}, never under the
 * checkout. A checkout may lie in a tree that dvdi protects from containers ({@code /root},
 * {@code /usr/src}...), and tests that hand host paths to the request policy would then check
 * where the clone is rather than the rule they are about. The build makes this the default
 * factory of every {@code @TempDir} (the surefire configuration in the top-level pom); tests
 * that make a directory themselves call {@link #newDir}.
 *
 * <p>The names carry a tag of the module's build directory ({@code java.io.tmpdir}, which the
 * build points there), so that {@link LeakCheck} blames a leak on this build only, even while
 * another checkout runs its tests on the same host.
 */
public final class TmpDirs implements TempDirFactory {
  /** The host's temporary directory, which no rule of dvdi's protects. */
  public static final Path HOST_TMP = Path.of("/tmp");

  /** The name prefix of this build's temporary directories under {@link #HOST_TMP}. */
  public static final String PREFIX = "dvdi-test-"
      + Integer.toHexString(Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().normalize().toString().hashCode())
      + "-";

  @Override
  public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext context) throws IOException {
    return newDir();
  }

  /** A new, empty directory of this build's under {@code /tmp} (the caller deletes it). */
  public static Path newDir() throws IOException {
    return Files.createTempDirectory(HOST_TMP, PREFIX);
  }

  /** True when {@code path} (absolute, normal) lies in a directory this build made under {@code /tmp}. */
  public static boolean ours(String path) {
    return path.startsWith(HOST_TMP + "/" + PREFIX);
  }
}
