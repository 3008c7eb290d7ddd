package org.dvdi.core.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.dvdi.provider.loop.LoopProviderFactory;
import org.dvdi.spi.Attachment;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.Capabilities;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderContext;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.dvdi.spi.testing.TestProviderContext;

/**
 * Test provider "hangloop": the loop provider, except that it can hang after a step
 * ({@code providers.hangloop.hang-after = attach|mount|unmount}), writing a marker file
 * ({@code providers.hangloop.marker}) first, so a test knows the process is between the
 * intent and the outcome of that step when it kills it. It can also be slow: {@code
 * providers.hangloop.delay = attach:1500,unmount:500} sleeps that many milliseconds before the
 * step and ignores interrupts meanwhile (a plugin that finishes what it was asked whatever its
 * caller does), and {@link #inFlight} counts the calls under way per step. With {@code
 * providers.hangloop.hang-until-interrupted = attach,mount} those steps hang until their thread is
 * interrupted (dvdi's deadline), then fail without doing anything (a provider that never answers
 * in time; the benchmark's load).
 */
public final class HangingLoopFactory implements ProviderFactory {
  /** Calls under way, and the most seen at once, per step ("attach", "unmount", ...). */
  public static final Map<String, java.util.concurrent.atomic.AtomicInteger> inFlight = new java.util.concurrent.ConcurrentHashMap<>();
  public static final Map<String, java.util.concurrent.atomic.AtomicInteger> maxInFlight = new java.util.concurrent.ConcurrentHashMap<>();
  /** Calls finished, per step. */
  public static final Map<String, java.util.concurrent.atomic.AtomicInteger> finished = new java.util.concurrent.ConcurrentHashMap<>();

  /** Forgets the counters (each test starts from zero). */
  public static void resetCounters() {
    inFlight.clear();
    maxInFlight.clear();
    finished.clear();
  }

  static java.util.concurrent.atomic.AtomicInteger counter(Map<String, java.util.concurrent.atomic.AtomicInteger> m, String step) {
    return m.computeIfAbsent(step, k -> new java.util.concurrent.atomic.AtomicInteger());
  }

  /** The context a delayed step works with: its own, past its deadline or not (a server's view). */
  static CallContext late(CallContext c) {
    return CallContext.of(java.time.Duration.ofSeconds(30), c.operation(), c.mountId());
  }

  /** Runs one step: delayed as configured, counted. */
  static <T> T step(String step, Map<String, Long> delays, java.util.function.Supplier<T> body) {
    int now = counter(inFlight, step).incrementAndGet();
    counter(maxInFlight, step).accumulateAndGet(now, Math::max);
    try {
      Long d = delays.get(step);
      if (d != null) {
        long until = System.nanoTime() + d * 1_000_000L;
        boolean interrupted = false;
        while (System.nanoTime() < until) {
          try {
            Thread.sleep(Math.max(1, (until - System.nanoTime()) / 1_000_000L));
          } catch (InterruptedException e) {
            interrupted = true; // ignored: the step goes on, as a plugin's would
          }
        }
        if (interrupted) {
          // what was asked happens anyway (a plugin's server finishes its Mount); the caller
          // learns of the interrupt afterwards
          try {
            return body.get();
          } finally {
            Thread.currentThread().interrupt();
          }
        }
      }
      return body.get();
    } finally {
      counter(inFlight, step).decrementAndGet();
      counter(finished, step).incrementAndGet();
    }
  }

  /** The body of a step that hangs until its thread is interrupted, then fails having done nothing. */
  static <T> java.util.function.Supplier<T> untilInterrupted(String step, java.util.function.Supplier<T> body,
      java.util.Set<String> hangs) {
    if (!hangs.contains(step)) {
      return body;
    }
    return () -> {
      try {
        Thread.sleep(Long.MAX_VALUE);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt(); // the caller's interrupt stays for the caller
      }
      throw org.dvdi.spi.DvdiException.provider("hangloop " + step + " hung until it was interrupted; nothing was done");
    };
  }

  @Override
  public String getName() {
    return "hangloop";
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext ctx) {
    Map<String, String> own = new HashMap<>(ctx.settings().asMap());
    String hangAfter = own.remove("hang-after");
    String marker = own.remove("marker");
    Map<String, Long> delays = new HashMap<>();
    java.util.Set<String> hangs = new java.util.HashSet<>();
    String hangUntil = own.remove("hang-until-interrupted");
    if (hangUntil != null) {
      hangs.addAll(List.of(hangUntil.split(",")));
    }
    String delay = own.remove("delay");
    if (delay != null) {
      for (String item : delay.split(",")) {
        String[] kv = item.split(":");
        delays.put(kv[0], Long.parseLong(kv[1]));
      }
    }
    VolumeProvider loop = new LoopProviderFactory().create(driver,
        TestProviderContext.of(ctx.mountRoot(), ctx.instanceId(), own));
    return new VolumeProvider() {
      void maybeHang(String step) {
        if (step.equals(hangAfter)) {
          try {
            Files.writeString(Path.of(marker), step);
            Thread.sleep(Long.MAX_VALUE);
          } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
          }
        }
      }

      @Override
      public String driver() {
        return loop.driver();
      }

      @Override
      public Capabilities capabilities() {
        return loop.capabilities();
      }

      @Override
      public void validate(String name, VolumeOptions options) {
        loop.validate(name, options);
      }

      @Override
      public Optional<VolumeInfo> inspect(String name, CallContext c) {
        return loop.inspect(name, c);
      }

      @Override
      public List<VolumeInfo> list(CallContext c) {
        return loop.list(c);
      }

      @Override
      public VolumeInfo create(String name, VolumeOptions options, CallContext c) {
        return loop.create(name, options, c);
      }

      @Override
      public Attachment attach(String name, VolumeOptions options, CallContext c) {
        Attachment a = step("attach", delays, untilInterrupted("attach", () -> loop.attach(name, options, late(c)), hangs));
        maybeHang("attach");
        return a;
      }

      @Override
      public MountedVolume mount(String name, VolumeOptions options, Attachment att, CallContext c) {
        MountedVolume m = step("mount", delays, untilInterrupted("mount", () -> loop.mount(name, options, att, late(c)), hangs));
        maybeHang("mount");
        return m;
      }

      @Override
      public void unmount(VolumeHandle v, CallContext c) {
        step("unmount", delays, () -> {
          loop.unmount(v, late(c));
          return null;
        });
        maybeHang("unmount");
      }

      @Override
      public void detach(VolumeHandle v, CallContext c) {
        step("detach", delays, () -> {
          loop.detach(v, late(c));
          return null;
        });
      }

      @Override
      public void remove(String name, CallContext c) {
        loop.remove(name, c);
      }
    };
  }
}
