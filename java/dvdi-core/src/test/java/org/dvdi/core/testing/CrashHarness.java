package org.dvdi.core.testing;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.core.state.VolumeKey;
import org.dvdi.spi.Settings;
import org.dvdi.spi.VolumeOptions;

/**
 * A separate JVM that a test kills with SIGKILL in the middle of an operation (by a hanging
 * provider, or by the engine's crash points: {@code -Ddvdi.test.crash-at}). Usage:
 * {@code CrashHarness <op> <argument>... key=value...} (settings), where op is one of
 * <ul>
 *   <li>{@code prepare <container> <volume>}: the agent prepares a container with one volume
 *       of the default driver;
 *   <li>{@code prepare-then-cleanup <container> <volume>}: the same, then its cleanup;
 *   <li>{@code cleanup <container>}: the agent cleans a container up;
 *   <li>{@code mount <driver/name>}, {@code unmount <driver/name>}, {@code release <driver/name>}:
 *       an operator's {@code dvdi mount}, {@code unmount}, {@code release} (as the CLI: its writer);
 *   <li>{@code recover <live,...>}: the agent recovers, with these containers live (none: "").
 * </ul>
 * It prints "done" when the operation ends (with a hanging provider or a crash point it
 * normally never gets there).
 */
public final class CrashHarness {
  /** Each operation and the number of arguments it takes. */
  public static final Map<String, Integer> OPS = Map.of("prepare", 2, "prepare-then-cleanup", 2, "cleanup", 1,
      "mount", 1, "unmount", 1, "release", 1, "recover", 1);
  /** The operations the CLI does (the others are the agent's). */
  public static final Set<String> CLI_OPS = Set.of("mount", "unmount", "release");

  public static void main(String[] args) throws Exception {
    String op = args[0];
    Integer arity = OPS.get(op);
    if (arity == null) {
      throw new IllegalArgumentException("unknown operation '" + op + "'; one of " + OPS.keySet());
    }
    List<String> operands = Arrays.asList(args).subList(1, 1 + arity);
    Map<String, String> settings = new HashMap<>();
    for (String kv : Arrays.asList(args).subList(1 + arity, args.length)) {
      int eq = kv.indexOf('=');
      settings.put(kv.substring(0, eq), kv.substring(eq + 1));
    }
    DvdiConfig config = new DvdiConfig(new Settings(settings, "harness"));
    String writer = CLI_OPS.contains(op) ? Dvdi.WRITER_CLI : Dvdi.WRITER_AGENT;
    try (Dvdi dvdi = Dvdi.open(config, writer)) {
      run(dvdi, op, operands, settings.get(DvdiConfig.DEFAULT_DRIVER));
    }
    System.out.println("done");
  }

  private static void run(Dvdi dvdi, String op, List<String> operands, String driver) {
    switch (op) {
      case "prepare", "prepare-then-cleanup" -> {
        String cid = operands.get(0);
        PrepareRequest req = new PrepareRequest(cid, null, null, null,
            EnvRequests.parse(Map.of("DVDI_VOLUME_NAME", operands.get(1)), driver));
        dvdi.manager().prepare(req).join();
        if (op.equals("prepare-then-cleanup")) {
          dvdi.manager().cleanup(cid).join();
        }
      }
      case "cleanup" -> dvdi.manager().cleanup(operands.get(0)).join();
      case "mount" -> dvdi.manager().operatorMount(VolumeKey.parse(operands.get(0)), new VolumeOptions(Map.of(), "dvdi mount"),
          false).join();
      case "unmount" -> dvdi.manager().operatorUnmount(VolumeKey.parse(operands.get(0))).join();
      case "release" -> dvdi.manager().operatorRelease(VolumeKey.parse(operands.get(0)), false).join();
      case "recover" -> {
        Set<String> live = Arrays.stream(operands.get(0).split(",")).filter(s -> !s.isEmpty()).collect(Collectors.toSet());
        dvdi.manager().recover(live, Set.of()).join();
      }
      default -> throw new IllegalStateException(op);
    }
  }
}
