package org.dvdi.core.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.dvdi.core.seams.CrashHook;

/**
 * Named step boundaries of prepare, cleanup, release and recovery, which the engine passes
 * through its {@link CrashHook} seam. {@link #fromProperties} is the test-only switch that
 * kills this JVM with SIGKILL there: {@code -Ddvdi.test.crash-at=<point>} (the first time the
 * point is reached), with {@code -Ddvdi.test.crash-marker=<file>} written first. The
 * crash-point harness runs a separate JVM per point and checks that recovery leaves nothing
 * behind. Without the property (always, outside that harness) the hook does nothing.
 */
public final class CrashPoints {
  /** System property naming the point to crash at (tests only). */
  public static final String PROPERTY = "dvdi.test.crash-at";
  /** System property naming a file written just before the crash (tests only). */
  public static final String MARKER_PROPERTY = "dvdi.test.crash-marker";

  /** Every point, in the order an operation reaches them. */
  public static final List<String> ALL = List.of(
      "prepare.container-recorded", "prepare.intent-written",
      "call.inspect.started", "call.inspect.done", "call.create.started", "call.create.done",
      "call.attach.started", "call.attach.done", "call.mount.started", "call.mount.done",
      "prepare.outcome-written", "prepare.ready",
      "cleanup.begun", "release.intent-written",
      "call.unmount.started", "call.unmount.done", "call.detach.started", "call.detach.done",
      "release.outcome-written", "cleanup.forgotten",
      "recover.containers-cleaned", "recover.volumes-reconciled");

  private static final String AT = System.getProperty(PROPERTY);

  private CrashPoints() {}

  /** The hook of this JVM: SIGKILL at the point {@link #PROPERTY} names, or nothing ({@link #reached}). */
  public static CrashHook fromProperties() {
    return CrashPoints::reached;
  }

  /**
   * A step boundary: crashes here when the switch names it. The crash-point trace sets its
   * breakpoint on this method, to learn which points an operation reaches.
   */
  static void reached(String point) {
    if (AT != null && AT.equals(point)) {
      crash(point);
    }
  }

  private static void crash(String point) {
    try {
      String marker = System.getProperty(MARKER_PROPERTY);
      if (marker != null) {
        Files.writeString(Path.of(marker), point);
      }
      new ProcessBuilder(List.of("kill", "-KILL", Long.toString(ProcessHandle.current().pid()))).start().waitFor();
      Thread.sleep(Long.MAX_VALUE);
    } catch (IOException | InterruptedException e) {
      Runtime.getRuntime().halt(137);
    }
  }
}
