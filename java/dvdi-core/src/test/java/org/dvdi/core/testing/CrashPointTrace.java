package org.dvdi.core.testing;

import com.sun.jdi.Bootstrap;
import com.sun.jdi.Method;
import com.sun.jdi.StringReference;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.connect.Connector;
import com.sun.jdi.connect.ListeningConnector;
import com.sun.jdi.event.BreakpointEvent;
import com.sun.jdi.event.ClassPrepareEvent;
import com.sun.jdi.event.Event;
import com.sun.jdi.event.EventSet;
import com.sun.jdi.event.VMDeathEvent;
import com.sun.jdi.event.VMDisconnectEvent;
import com.sun.jdi.request.ClassPrepareRequest;
import com.sun.jdi.request.EventRequest;
import com.sun.jdi.request.EventRequestManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.dvdi.core.engine.CrashPoints;

/**
 * Which crash points an operation reaches, in order, without crashing it: runs the harness
 * once under the JDK's debugger interface (JDI), with a breakpoint on
 * {@code CrashPoints.reached} that records the name of each point and lets the JVM go on.
 * The crash-point test then crashes the operation at each point this found, and reports the
 * others as not reached by that operation, without a JVM start for each of them.
 */
public final class CrashPointTrace {
  /** What a traced run did: the points in the order reached, and how the JVM ended. */
  public record Result(List<String> reached, int exitCode, String log) {}

  private CrashPointTrace() {}

  /** Runs the harness (see {@link HarnessJvm#command}) under the debugger until it ends. */
  public static Result run(List<String> harnessArgs, Map<String, String> settings, Path log, Duration timeout)
      throws Exception {
    ListeningConnector lc = Bootstrap.virtualMachineManager().listeningConnectors().stream()
        .filter(c -> c.transport().name().equals("dt_socket")).findFirst()
        .orElseThrow(() -> new AssertionError("no JDI socket connector in this JDK"));
    Map<String, Connector.Argument> args = lc.defaultArguments();
    args.get("localAddress").setValue("127.0.0.1");
    args.get("port").setValue("0");
    args.get("timeout").setValue(Long.toString(timeout.toMillis()));
    String address = lc.startListening(args);
    Process p;
    VirtualMachine vm;
    try {
      p = HarnessJvm.start(HarnessJvm.command(List.of("-agentlib:jdwp=transport=dt_socket,server=n,suspend=y,address="
          + address), harnessArgs, settings), log);
      vm = lc.accept(args);
    } finally {
      lc.stopListening(args);
    }
    List<String> reached = new ArrayList<>();
    try {
      EventRequestManager erm = vm.eventRequestManager();
      ClassPrepareRequest cpr = erm.createClassPrepareRequest();
      cpr.addClassFilter(CrashPoints.class.getName());
      cpr.enable();
      long until = System.nanoTime() + timeout.toNanos();
      boolean ended = false;
      while (!ended) {
        EventSet set = vm.eventQueue().remove(Math.max(1, (until - System.nanoTime()) / 1_000_000L));
        if (set == null) {
          throw new AssertionError("traced harness " + harnessArgs + " did not end within " + timeout + "; log: "
              + Files.readString(log));
        }
        for (Event e : set) {
          if (e instanceof ClassPrepareEvent cpe) {
            Method m = cpe.referenceType().methodsByName("reached").get(0);
            EventRequest br = erm.createBreakpointRequest(m.location());
            br.setSuspendPolicy(EventRequest.SUSPEND_EVENT_THREAD);
            br.enable();
          } else if (e instanceof BreakpointEvent be) {
            reached.add(((StringReference) be.thread().frame(0).getArgumentValues().get(0)).value());
          } else if (e instanceof VMDeathEvent || e instanceof VMDisconnectEvent) {
            ended = true;
          }
        }
        if (!ended) {
          set.resume();
        }
      }
    } finally {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor();
      }
    }
    return new Result(reached, p.exitValue(), Files.readString(log));
  }
}
