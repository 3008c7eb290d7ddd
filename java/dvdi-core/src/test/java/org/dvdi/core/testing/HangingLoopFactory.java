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
 * intent and the outcome of that step when it kills it.
 */
public final class HangingLoopFactory implements ProviderFactory {
  @Override
  public String getName() {
    return "hangloop";
  }

  @Override
  public VolumeProvider create(String driver, ProviderContext ctx) {
    Map<String, String> own = new HashMap<>(ctx.settings().asMap());
    String hangAfter = own.remove("hang-after");
    String marker = own.remove("marker");
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
        Attachment a = loop.attach(name, options, c);
        maybeHang("attach");
        return a;
      }

      @Override
      public MountedVolume mount(String name, VolumeOptions options, Attachment att, CallContext c) {
        MountedVolume m = loop.mount(name, options, att, c);
        maybeHang("mount");
        return m;
      }

      @Override
      public void unmount(VolumeHandle v, CallContext c) {
        loop.unmount(v, c);
        maybeHang("unmount");
      }

      @Override
      public void detach(VolumeHandle v, CallContext c) {
        loop.detach(v, c);
      }

      @Override
      public void remove(String name, CallContext c) {
        loop.remove(name, c);
      }
    };
  }
}
