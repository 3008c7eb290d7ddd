package org.dvdi.core.engine;

import java.util.Optional;
import java.util.function.LongFunction;
import org.dvdi.spi.host.HostInfo;

/**
 * Who writes an intent, and whether that process still runs: the one place of the owner
 * format {@code <writer>:<pid>:<boot id>:<start>}, where {@code start} is the process's start
 * time (milliseconds since the epoch, as the kernel gives it; 0 when unknown). The start time
 * tells a live process from one that ended and whose pid the kernel gave to another: by pid
 * alone, a reused pid kept a dead process's in-flight records "alive", every step on those
 * volumes was refused as busy and the reaper skipped them. Owners of earlier versions
 * ({@code <writer>:<pid>:<boot id>}) are judged by pid and boot alone.
 */
public final class ProcessOwner {
  private ProcessOwner() {}

  /** This process's owner string. */
  static String of(String writer, ProcessHandle self, String bootId) {
    return writer + ":" + self.pid() + ":" + bootId + ":" + startMs(self);
  }

  /** The owner's process runs: same boot, the pid alive and, when recorded, started at the recorded time. */
  static boolean alive(String owner) {
    return alive(owner, HostInfo.bootId());
  }

  /** As {@link #alive(String)}, on the boot {@code bootId}. */
  public static boolean alive(String owner, String bootId) {
    return alive(owner, bootId, ProcessHandle::of);
  }

  static boolean alive(String owner, String bootId, LongFunction<Optional<ProcessHandle>> processes) {
    String[] o = owner.split(":");
    if ((o.length != 3 && o.length != 4) || !o[2].equals(bootId)) {
      return false;
    }
    try {
      Optional<ProcessHandle> p = processes.apply(Long.parseLong(o[1])).filter(ProcessHandle::isAlive);
      if (p.isEmpty()) {
        return false;
      }
      long recorded = o.length == 4 ? Long.parseLong(o[3]) : 0;
      return recorded == 0 || startMs(p.get()) == recorded;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /** The process's start time, or 0 when the kernel does not say. */
  static long startMs(ProcessHandle p) {
    return p.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
  }
}
