package org.dvdi.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.dvdi.core.seams.SimHost;
import org.junit.jupiter.api.Test;

/** Whether an intent's owner runs, on a simulated host whose pids end and are reused and which reboots. */
class ProcessOwnerSimTest {
  final SimHost host = new SimHost();

  @Test
  void anOwnerIsAliveWhileItsProcessRuns() {
    String me = ProcessOwner.of("agent", host);
    assertEquals("agent:" + host.pid() + ":" + host.bootId() + ":" + host.processStartMs(host.pid()).orElseThrow(), me);
    assertTrue(ProcessOwner.alive(host, me));
    SimHost cli = host.newProcess();
    String theirs = ProcessOwner.of("cli", cli);
    assertTrue(ProcessOwner.alive(host, theirs), "another process of the machine, judged from this one");
    host.kill(cli.pid());
    assertFalse(ProcessOwner.alive(host, theirs), "ended");
  }

  @Test
  void aReusedPidWithAnotherStartTimeIsNotAlive() {
    SimHost cli = host.newProcess();
    String owner = ProcessOwner.of("cli", cli);
    host.kill(cli.pid());
    host.spawn(cli.pid());
    assertTrue(host.processStartMs(cli.pid()).isPresent(), "the pid runs again");
    assertFalse(ProcessOwner.alive(host, owner), "but it is another process, started later");
  }

  @Test
  void anotherBootIsNeverAlive() {
    String owner = ProcessOwner.of("agent", host);
    String[] o = owner.split(":");
    assertFalse(ProcessOwner.alive(host, o[0] + ":" + o[1] + ":another-boot:" + o[3]), "the pid and start time agree");
    host.reboot();
    host.spawn(Long.parseLong(o[1]));
    assertFalse(ProcessOwner.alive(host, owner), "a record from before the reboot, its pid running again");
    assertFalse(ProcessOwner.alive(host, o[0] + ":" + o[1] + ":" + o[2]), "as an owner of an earlier version");
  }

  @Test
  void anOwnerOfAnEarlierVersionIsJudgedByPidAndBoot() {
    SimHost cli = host.newProcess();
    String legacy = "cli:" + cli.pid() + ":" + host.bootId();
    assertTrue(ProcessOwner.alive(host, legacy), "no start time recorded: the pid alone decides");
    host.kill(cli.pid());
    assertFalse(ProcessOwner.alive(host, legacy));
    host.spawn(cli.pid());
    assertTrue(ProcessOwner.alive(host, legacy), "a reused pid cannot be told from its first holder without a start time");
    assertFalse(ProcessOwner.alive(host, "cli:" + cli.pid() + ":another-boot"), "another boot is never alive");
  }

  @Test
  void aMalformedOwnerIsNotAlive() {
    String boot = host.bootId();
    for (String owner : new String[] {"", "agent", "agent:" + host.pid(), "agent:x:" + boot, "agent:" + host.pid() + ":" + boot + ":y",
        "agent:" + host.pid() + ":" + boot + ":1:2"}) {
      assertFalse(ProcessOwner.alive(host, owner), owner);
    }
  }
}
