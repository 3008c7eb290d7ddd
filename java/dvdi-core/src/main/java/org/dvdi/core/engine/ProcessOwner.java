package org.dvdi.core.engine;

import java.util.Optional;
import org.dvdi.core.seams.Host;

/**
 * Who writes an intent, and whether that process still runs: the one place of the owner
 * format {@code <writer>:<pid>:<boot id>:<start>}, where {@code start} is the process's start
 * time (milliseconds since the epoch, as the kernel gives it; 0 when unknown). The start time
 * tells a live process from one that ended and whose pid the kernel gave to another: by pid
 * alone, a reused pid kept a dead process's in-flight records "alive", every step on those
 * volumes was refused as busy and the reaper skipped them. Owners of earlier versions
 * ({@code <writer>:<pid>:<boot id>}) are judged by pid and boot alone. Processes and the boot
 * id are the {@link Host}'s.
 */
public final class ProcessOwner {
  private ProcessOwner() {}

  /** The owner string of this process ({@link Host#pid}) on {@code host}. */
  static String of(String writer, Host host) {
    long pid = host.pid();
    return writer + ":" + pid + ":" + host.bootId() + ":" + host.processStartMs(pid).orElse(0L);
  }

  /**
   * The owner's process runs on {@code host}: the host's current boot, the pid alive and, when
   * recorded, started at the recorded time.
   */
  public static boolean alive(Host host, String owner) {
    String[] o = owner.split(":");
    if ((o.length != 3 && o.length != 4) || !o[2].equals(host.bootId())) {
      return false;
    }
    try {
      Optional<Long> start = host.processStartMs(Long.parseLong(o[1]));
      if (start.isEmpty()) {
        return false;
      }
      long recorded = o.length == 4 ? Long.parseLong(o[3]) : 0;
      return recorded == 0 || start.get() == recorded;
    } catch (NumberFormatException e) {
      return false;
    }
  }
}
