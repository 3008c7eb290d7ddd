package org.dvdi.core.engine;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.engine.LaunchPlan.Chain;
import org.dvdi.core.engine.LaunchPlan.Missing;
import org.dvdi.core.engine.LaunchPlan.Target;
import org.dvdi.core.request.Grammar;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.request.RequestPolicy;
import org.dvdi.core.request.VolumeRequest;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.DvdiException;

/**
 * Where each volume is bound, in the launcher's view of the container's filesystem, following
 * Mesos's docker/volume isolator, and the checks and directories that go with it.
 *
 * <ul>
 *   <li>A relative container path is inside the sandbox. Without an image the bind goes to
 *       {@code <sandbox>/<path>}; with one to {@code <rootfs><mesos.sandbox-directory>/<path>}
 *       (Mesos binds the sandbox there before dvdi's mounts), and the mount point is made in
 *       the host sandbox, which is what that directory shows.
 *   <li>An absolute one is inside the image's root when the container has one (made there);
 *       else it is the host's directory itself: under {@code container.path-prefixes}, never a
 *       protected tree ({@link RequestPolicy}), and it must exist unless it is under /tmp/.
 *   <li>No component below the sandbox, the image's root or "/" may be a symbolic link or
 *       a non-directory; two volumes may not resolve to one place, nor one inside another.
 *   <li>Where it resolves must fit the kernel's limits as the container path itself does
 *       ({@link Grammar#pathTooLong}): the sandbox or the image's root adds its own length.
 * </ul>
 *
 * <p>The engine calls {@link #plan} before its first provider call and {@link #createTargets}
 * right before it hands the binds to Mesos.
 */
public final class LaunchPlanner {
  static final Path HOST_TMP = Path.of("/tmp");
  private static final Path ROOT = Path.of("/");

  private final RequestPolicy policy;
  private final Path sandboxDirectory;

  public LaunchPlanner(DvdiConfig config) {
    this.policy = new RequestPolicy(config);
    this.sandboxDirectory = config.sandboxDirectory();
  }


  /**
   * Checks everything that can be checked before anything is done, and decides every bind:
   * the operator's policy, where each target resolves, that no existing component of a target
   * is a symbolic link or a non-directory, that host directories exist, and that no two
   * targets are one place or one inside the other. Creates nothing.
   *
   * @throws DvdiException INVALID_REQUEST naming the field, the value and the rule
   */
  public LaunchPlan plan(PrepareRequest req) {
    policy.check(req);
    Map<VolumeKey, Target> targets = new LinkedHashMap<>();
    for (VolumeRequest v : req.volumes()) {
      Target t = target(req, v);
      checkLength(t);
      walk(t, Walk.CHECK);
      targets.put(v.key(), t);
    }
    checkApart(List.copyOf(targets.values()));
    return new LaunchPlan(req, targets);
  }

  /**
   * Creates the mount points of {@code plan}, one component at a time, never through a link
   * (a component that is one, or that is not a directory, is an error), then checks every
   * component of every target again ({@link #verifyTargets}). Call it right before the binds
   * are handed to Mesos.
   */
  public void createTargets(LaunchPlan plan) {
    for (Target t : plan.targets().values()) {
      walk(t, Walk.CREATE);
    }
    verifyTargets(plan);
  }

  /**
   * Checks again, without following links, that every component of every target exists and
   * is a directory (the sandbox mount point inside an image may still be missing: Mesos
   * makes it).
   */
  public void verifyTargets(LaunchPlan plan) {
    for (Target t : plan.targets().values()) {
      walk(t, Walk.VERIFY);
    }
  }

  // ------------------------------------------------------------------ deciding

  private Target target(PrepareRequest req, VolumeRequest v) {
    String cp = v.containerPath();
    if (cp.isEmpty()) {
      return new Target(v, "", List.of());
    }
    if (!cp.startsWith("/")) {
      return inSandbox(req, v, Path.of(cp));
    }
    Path p = Path.of(cp);
    if (req.rootfs() == null) {
      Missing m = p.startsWith(HOST_TMP) ? Missing.CREATE : Missing.REFUSE;
      return new Target(v, cp, List.of(new Chain(ROOT, p, m)));
    }
    if (sandboxDirectory.startsWith(p)) {
      throw refused(v, "in an image, " + sandboxDirectory + " (setting " + DvdiConfig.SANDBOX_DIRECTORY
          + ") is the sandbox, and a volume at '" + cp + "' would hide it; use a relative path (inside the sandbox)");
    }
    if (p.startsWith(sandboxDirectory)) {
      return inSandbox(req, v, sandboxDirectory.relativize(p));
    }
    Path t = req.rootfs().resolve(ROOT.relativize(p));
    return new Target(v, t.toString(), List.of(new Chain(req.rootfs(), t, Missing.CREATE)));
  }

  /** A path inside the sandbox: the mount point is in the host sandbox; the bind target in the launcher's view. */
  private Target inSandbox(PrepareRequest req, VolumeRequest v, Path rel) {
    if (req.sandbox() == null) {
      throw refused(v, "it is inside the sandbox, but the container has no sandbox directory");
    }
    Path mountPoint = req.sandbox().resolve(rel);
    Chain sandboxChain = new Chain(req.sandbox(), mountPoint, Missing.CREATE);
    if (req.rootfs() == null) {
      return new Target(v, mountPoint.toString(), List.of(sandboxChain));
    }
    Path inImage = req.rootfs().resolve(ROOT.relativize(sandboxDirectory));
    return new Target(v, inImage.resolve(rel).toString(),
        List.of(new Chain(req.rootfs(), inImage, Missing.MESOS_MAKES), sandboxChain));
  }

  /**
   * The grammar held the container path as given to the kernel's limits; held here to them too
   * is where it resolves: the bind target and every directory dvdi makes for it (below the
   * sandbox or the image's root, which add their own length).
   */
  private static void checkLength(Target t) {
    List<String> paths = new ArrayList<>();
    paths.add(t.bindTarget());
    for (Chain c : t.chains()) {
      paths.add(c.to().toString());
    }
    for (String p : paths) {
      String tooLong = p.isEmpty() ? null : Grammar.pathTooLong(p);
      if (tooLong != null) {
        throw refused(t.volume(), "on this host it resolves to '" + Grammar.printable(p) + "', and a path " + tooLong);
      }
    }
  }

  /** No two binds at one place, and none inside another (its target would be in the other volume's content). */
  private static void checkApart(List<Target> targets) {
    for (int j = 0; j < targets.size(); j++) {
      Target b = targets.get(j);
      if (b.bindTarget().isEmpty()) {
        continue;
      }
      Path pb = Path.of(b.bindTarget());
      for (int i = 0; i < j; i++) {
        Target a = targets.get(i);
        if (a.bindTarget().isEmpty()) {
          continue;
        }
        Path pa = Path.of(a.bindTarget());
        String other = a.volume().pathSource() + " ('" + Grammar.printable(a.volume().containerPath()) + "')";
        if (pa.equals(pb)) {
          throw refused(b.volume(), "it resolves to " + pb + ", the same place as " + other
              + "; each volume needs its own container path");
        }
        if (pa.startsWith(pb) || pb.startsWith(pa)) {
          throw refused(b.volume(), "it resolves to " + pb + ", and " + other + " to " + pa
              + ": a volume may not be bound inside another (dvdi cannot check a mount point inside a volume's content)");
        }
      }
    }
  }

  // ------------------------------------------------------------------ walking

  private enum Walk {
    /** Before anything is done: existing components only. */
    CHECK,
    /** Make what is missing. */
    CREATE,
    /** After making: everything must be there. */
    VERIFY
  }

  private static void walk(Target t, Walk mode) {
    for (Chain c : t.chains()) {
      walk(t.volume(), c, mode);
    }
  }

  private static void walk(VolumeRequest v, Chain c, Walk mode) {
    if (!Files.isDirectory(c.from())) {
      throw refused(v, c.from() + ", where it starts, is not a directory");
    }
    Path cur = c.from();
    for (Path part : c.from().relativize(c.to())) {
      cur = cur.resolve(part);
      BasicFileAttributes a = attributes(v, cur);
      if (a == null) {
        if (c.missing() == Missing.MESOS_MAKES || (c.missing() == Missing.CREATE && mode == Walk.CHECK)) {
          return;
        }
        if (c.missing() == Missing.REFUSE) {
          throw refused(v, "it does not exist on this host (" + cur + " is missing) and the container has no image: "
              + "create it on the agents, use a path under /tmp/, or a relative path (inside the sandbox)");
        }
        if (mode == Walk.VERIFY) {
          throw refused(v, cur + " disappeared after dvdi made it");
        }
        a = makeDirectory(v, cur);
      }
      if (a.isSymbolicLink()) {
        throw refused(v, "it runs through a symbolic link (" + cur + "); refusing to follow it");
      }
      if (!a.isDirectory()) {
        throw refused(v, cur + " is not a directory");
      }
    }
  }

  /** The attributes of {@code p} itself (never of what a link points at), or null if it does not exist. */
  private static BasicFileAttributes attributes(VolumeRequest v, Path p) {
    try {
      return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw DvdiException.provider(v.pathSource() + ": cannot read " + p + ": " + e.getMessage(), e);
    }
  }

  /** mkdir(2), which never follows a link at {@code p} itself; what is there afterwards. */
  private static BasicFileAttributes makeDirectory(VolumeRequest v, Path p) {
    try {
      Files.createDirectory(p);
    } catch (FileAlreadyExistsException e) {
      // Made meanwhile: checked below like any other component.
    } catch (IOException e) {
      throw DvdiException.provider(v.pathSource() + ": cannot create the bind target " + p + ": " + e.getMessage(), e);
    }
    BasicFileAttributes a = attributes(v, p);
    if (a == null) {
      throw refused(v, p + " disappeared as dvdi made it");
    }
    return a;
  }

  private static DvdiException refused(VolumeRequest v, String why) {
    return DvdiException.invalid(v.pathSource() + " is '" + Grammar.printable(v.containerPath()) + "': " + why);
  }
}
