package org.dvdi.core.testing;

import java.util.HashMap;
import java.util.Map;
import org.dvdi.core.Dvdi;
import org.dvdi.core.config.DvdiConfig;
import org.dvdi.core.request.EnvRequests;
import org.dvdi.core.request.PrepareRequest;
import org.dvdi.spi.Settings;

/**
 * A separate JVM that a test kills with SIGKILL in the middle of an operation.
 * Usage: {@code CrashHarness <op: prepare|prepare-then-cleanup> <container> <volume> key=value...}
 * (settings). It runs the operation and prints "done" (it normally never gets there: the
 * hanging provider stops it between intent and outcome).
 */
public final class CrashHarness {
  public static void main(String[] args) throws Exception {
    String op = args[0];
    String cid = args[1];
    String volume = args[2];
    Map<String, String> settings = new HashMap<>();
    for (int i = 3; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      settings.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    Dvdi dvdi = Dvdi.open(new DvdiConfig(new Settings(settings, "harness")), Dvdi.WRITER_AGENT);
    PrepareRequest req = new PrepareRequest(cid, null, null, null,
        EnvRequests.parse(Map.of("DVDI_VOLUME_NAME", volume), "hangloop"));
    dvdi.manager().prepare(req).join();
    if (op.equals("prepare-then-cleanup")) {
      dvdi.manager().cleanup(cid).join();
    }
    System.out.println("done");
  }
}
