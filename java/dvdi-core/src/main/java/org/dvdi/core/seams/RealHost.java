package org.dvdi.core.seams;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.dvdi.spi.host.HostInfo;
import org.dvdi.spi.host.KernelMounts;

/** {@link Host} on this machine: /proc and stat(2). */
final class RealHost implements Host {
  private final String bootId = HostInfo.bootId();

  @Override
  public String bootId() {
    return bootId;
  }

  @Override
  public KernelMounts mountTable() {
    return KernelMounts.read();
  }

  @Override
  public FileStat stat(Path path, boolean followLinks) throws IOException {
    LinkOption[] o = followLinks ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
    Map<String, Object> a = Files.readAttributes(path, "unix:dev,rdev,mode", o);
    return new FileStat(((Number) a.get("dev")).longValue(), ((Number) a.get("rdev")).longValue(),
        ((Number) a.get("mode")).intValue());
  }

  @Override
  public long pid() {
    return ProcessHandle.current().pid();
  }

  @Override
  public Optional<Long> processStartMs(long pid) {
    return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
        .map(p -> p.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L));
  }
}
