package org.dvdi.provider.plugin;

import static org.dvdi.provider.plugin.TestContexts.ctx;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import org.dvdi.spi.MountedVolume;
import org.dvdi.spi.ProviderFactory;
import org.dvdi.spi.VolumeHandle;
import org.dvdi.spi.VolumeInfo;
import org.dvdi.spi.VolumeOptions;
import org.dvdi.spi.VolumeProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin provider: discovery, protocol, faults and their error codes, deadlines, concurrency. */
class PluginProviderTest {
  static final VolumeOptions OPTS = new VolumeOptions(Map.of("size", "1"), "test");

  @TempDir
  Path tmp;

  Path sockets;
  Path specs;
  FakePlugin plugin;
  final List<FakePlugin> others = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    sockets = tmp.resolve("sockets");
    specs = tmp.resolve("specs");
    Files.createDirectories(specs);
    plugin = FakePlugin.unix(sockets.resolve("fake.sock"), tmp.resolve("volumes"));
  }

  @AfterEach
  void stop() throws IOException {
    plugin.close();
    for (FakePlugin p : others) {
      p.close();
    }
    assertEquals(List.of(), plugin.violations, "protocol violations seen by the plugin");
  }

  VolumeProvider provider(String driver, String... settings) {
    Map<String, String> s = new HashMap<>(Map.of(
        PluginProvider.SET_SOCKET_DIRS, sockets.toString(),
        PluginProvider.SET_SPEC_DIRS, specs.toString()));
    for (int i = 0; i < settings.length; i += 2) {
      s.put(settings[i], settings[i + 1]);
    }
    return new PluginProviderFactory().create(driver, TestContexts.of(s));
  }

  VolumeProvider provider() {
    return provider("fake");
  }

  static DvdiException fails(ErrorCode code, Runnable r) {
    DvdiException e = assertThrows(DvdiException.class, r::run);
    assertEquals(code, e.getCode(), e.getMessage());
    return e;
  }

  static long millis(Runnable r) {
    long t = System.nanoTime();
    r.run();
    return (System.nanoTime() - t) / 1_000_000;
  }

  static VolumeHandle handle(String name) {
    return new VolumeHandle(name, OPTS, "", "", Map.of());
  }

  // ------------------------------------------------------------------ registration, settings, validation

  @Test
  void bothFactoriesAreRegisteredAndThePluginFactoryServesAnyDriver() {
    Map<String, ProviderFactory> byName = new TreeMap<>();
    ServiceLoader.load(ProviderFactory.class).forEach(f -> byName.put(f.getName(), f));
    assertTrue(byName.containsKey("plugin") && byName.containsKey("dvdcli"), byName.keySet().toString());
    assertTrue(byName.get("plugin").servesAnyDriver());
    assertFalse(byName.get("dvdcli").servesAnyDriver());
  }

  @Test
  void settingsAreChecked() {
    DvdiException typo = fails(ErrorCode.INVALID_CONFIG, () -> provider("fake", "socket-dir", "/x"));
    assertTrue(typo.getMessage().contains("socket-dir") && typo.getMessage().contains("socket-dirs"), typo.getMessage());
    DvdiException rel = fails(ErrorCode.INVALID_CONFIG, () -> provider("fake", "spec-dirs", "/etc/docker/plugins,relative"));
    assertTrue(rel.getMessage().contains("spec-dirs"), rel.getMessage());
    fails(ErrorCode.INVALID_CONFIG, () -> provider("fake", "connect-retry", "soon"));
  }

  @Test
  void validateRefusesAnUnknownDriverBeforeAnythingIsDone() {
    VolumeProvider p = provider("nosuch");
    DvdiException e = fails(ErrorCode.INVALID_REQUEST, () -> p.validate("web1", OPTS));
    assertTrue(e.getMessage().startsWith("unknown volume driver 'nosuch': no Docker volume plugin socket or spec found in "), e.getMessage());
    assertTrue(e.getMessage().contains(sockets.resolve("nosuch.sock").toString()), e.getMessage());
    assertTrue(e.getMessage().contains(specs.resolve("nosuch.{spec,json}").toString()), e.getMessage());
    assertTrue(plugin.requests.isEmpty(), "nothing was sent");
  }

  @Test
  void validateChecksTheNameAndPassesOptionsThrough() {
    VolumeProvider p = provider();
    fails(ErrorCode.INVALID_REQUEST, () -> p.validate("../etc", OPTS));
    fails(ErrorCode.INVALID_REQUEST, () -> p.validate("", OPTS));
    p.validate("web-1.data_x", new VolumeOptions(Map.of("anyPluginKey", "x", "newFsType", "xfs"), "test"));
    assertTrue(plugin.requests.isEmpty(), "validate sends nothing");
  }

  // ------------------------------------------------------------------ protocol

  @Test
  void requestsAreExactlyWhatTheProtocolSays() {
    VolumeProvider p = provider();
    VolumeOptions o = new VolumeOptions(new java.util.LinkedHashMap<>(Map.of("size", "5")), "test");
    p.create("web1", o, ctx(2000));
    MountedVolume mv = p.mount("web1", o, null, ctx(2000));
    p.unmount(new VolumeHandle("web1", o, mv.hostPath(), "", Map.of()), ctx(2000));
    p.list(ctx(2000));
    p.remove("web1", ctx(2000));
    assertEquals(1, plugin.calls("/Plugin.Activate"));
    assertEquals("{}", plugin.requests("/Plugin.Activate").get(0).body());
    assertEquals("{}", plugin.requests("/VolumeDriver.Capabilities").get(0).body());
    assertEquals("{\"Name\":\"web1\",\"Opts\":{\"size\":\"5\"}}", plugin.requests("/VolumeDriver.Create").get(0).body());
    assertEquals("{\"Name\":\"web1\",\"ID\":\"host-a\"}", plugin.requests("/VolumeDriver.Mount").get(0).body());
    assertEquals("{\"Name\":\"web1\",\"ID\":\"host-a\"}", plugin.requests("/VolumeDriver.Unmount").get(0).body());
    assertEquals("{}", plugin.requests("/VolumeDriver.List").get(0).body());
    assertEquals("{\"Name\":\"web1\"}", plugin.requests("/VolumeDriver.Remove").get(0).body());
    FakePlugin.Request mount = plugin.requests("/VolumeDriver.Mount").get(0);
    assertEquals(FakePlugin.ACCEPT, mount.headers().get("accept"));
    assertEquals("application/json", mount.headers().get("content-type"));
    assertEquals("plugin.sock", mount.headers().get("host"));
    assertEquals(plugin.volumeDir("web1").toString(), mv.hostPath());
  }

  @Test
  void inspectAndListReportThePluginsView() {
    VolumeProvider p = provider();
    p.create("a1", OPTS, ctx(2000));
    p.mount("a1", OPTS, null, ctx(2000));
    VolumeInfo a1 = p.inspect("a1", ctx(2000)).orElseThrow();
    assertEquals("fake", a1.driver());
    assertEquals("in-use", a1.status());
    assertEquals(plugin.volumeDir("a1").toString(), a1.details().get("mountpoint"));
    assertEquals("1", a1.details().get("status.mounts"));
    p.create("a2", OPTS, ctx(2000));
    assertEquals(List.of("a1", "a2"), p.list(ctx(2000)).stream().map(VolumeInfo::name).toList());
  }

  @Test
  void activationHappensOnceAndAPluginWithoutCapabilitiesIsUsedToo() throws Exception {
    VolumeProvider p = provider();
    for (int i = 0; i < 5; i++) {
      p.inspect("x" + i, ctx(2000));
    }
    assertEquals(1, plugin.calls("/Plugin.Activate"));
    assertEquals(1, plugin.calls("/VolumeDriver.Capabilities"));
    assertFalse(p.capabilities().kernelMounts());

    plugin.scope = null; // Capabilities not implemented (404)
    VolumeProvider none = provider();
    none.inspect("x", ctx(2000));
    assertEquals(2, plugin.calls("/Plugin.Activate"), "the second provider activates it too, and uses it");
    assertEquals(2, plugin.calls("/VolumeDriver.Capabilities"));
  }

  @Test
  void aPluginThatIsNoVolumeDriverIsRefused() {
    plugin.implementsList = List.of("NetworkDriver");
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> provider().inspect("x", ctx(2000)));
    assertTrue(e.getMessage().contains("does not implement VolumeDriver") && e.getMessage().contains("NetworkDriver"), e.getMessage());
  }

  @Test
  void anEmptyMountpointIsAskedForWithPath() {
    plugin.emptyMountpoint = true;
    VolumeProvider p = provider();
    p.create("v", OPTS, ctx(2000));
    assertEquals(plugin.volumeDir("v").toString(), p.mount("v", OPTS, null, ctx(2000)).hostPath());
    assertEquals(1, plugin.calls("/VolumeDriver.Path"));
  }

  @Test
  void chunkedAnswersAreRead() throws IOException {
    plugin.chunked = true;
    VolumeProvider p = provider();
    for (int i = 0; i < 300; i++) {
      Files.createDirectories(plugin.volumeDir(String.format("bulk-%03d", i)));
    }
    List<VolumeInfo> all = p.list(ctx(5000));
    assertEquals(300, all.size(), "a List answer of many chunks over several reads");
    p.create("c1", OPTS, ctx(2000));
    assertEquals(plugin.volumeDir("c1").toString(), p.mount("c1", OPTS, null, ctx(2000)).hostPath());
  }

  @Test
  void answersEndingWithTheConnectionAreRead() {
    plugin.noLength = true;
    VolumeProvider p = provider();
    p.create("nl", OPTS, ctx(2000));
    assertEquals(plugin.volumeDir("nl").toString(), p.mount("nl", OPTS, null, ctx(2000)).hostPath());
  }

  // ------------------------------------------------------------------ missing volumes, busy, idempotency

  @Test
  void aMissingVolumeIsVolumeNotFoundAlsoWithRexRayErrorsAndOddWording() {
    for (int mode = 0; mode < 3; mode++) {
      plugin.rexrayErrors = mode == 1;
      plugin.oddWording = mode == 2;
      VolumeProvider p = provider();
      assertTrue(p.inspect("ghost", ctx(2000)).isEmpty(), "mode " + mode);
      DvdiException m = fails(ErrorCode.VOLUME_NOT_FOUND, () -> p.mount("ghost", OPTS, null, ctx(2000)));
      assertTrue(m.getMessage().contains("'fake'") && m.getMessage().contains("VolumeDriver.Mount")
          && m.getMessage().contains("'ghost'"), m.getMessage());
      fails(ErrorCode.VOLUME_NOT_FOUND, () -> p.remove("ghost", ctx(2000)));
      p.unmount(handle("ghost"), ctx(2000));
    }
    assertTrue(plugin.calls("/VolumeDriver.List") > 0, "odd wording was settled with List");
  }

  @Test
  void aFailingGetIsNotMistakenForAMissingVolume() {
    plugin.errFor = "/VolumeDriver.Get";
    plugin.errText = "backend timeout talking to the cloud API";
    VolumeProvider p = provider();
    p.create("real", OPTS, ctx(2000)); // create answers from Get fall back to its own facts
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> p.inspect("real", ctx(2000)));
    assertTrue(e.getMessage().contains("backend timeout"), e.getMessage());
  }

  @Test
  void unmountIsIdempotentAlsoWhenThePluginSaysNotMounted() {
    plugin.strictUnmount = true;
    VolumeProvider p = provider();
    p.create("u1", OPTS, ctx(2000));
    p.mount("u1", OPTS, null, ctx(2000));
    p.unmount(handle("u1"), ctx(2000));
    p.unmount(handle("u1"), ctx(2000));
  }

  @Test
  void finding8_unmountUsesTheMountIdTheMountUsedAfterTheInstanceIdChanged() {
    VolumeProvider p = provider();
    p.create("r1", OPTS, ctx(2000));
    MountedVolume mv = p.mount("r1", OPTS, null, CallContext.of(Duration.ofSeconds(2), "test mount", "old-host"));
    assertEquals(Set.of("old-host"), plugin.mountIds("r1"));
    // The host was renamed (instance.id changed) and the agent restarted: the handle comes from state.
    VolumeHandle h = new VolumeHandle("r1", OPTS, mv.hostPath(), mv.device(), mv.providerData());
    p.unmount(h, CallContext.of(Duration.ofSeconds(2), "test unmount", "new-host"));
    assertEquals(Set.of(), plugin.mountIds("r1"), "the plugin got Unmount with the ID the Mount used");
    // State written before the ID was recorded: the current mount ID is used.
    p.mount("r1", OPTS, null, CallContext.of(Duration.ofSeconds(2), "test mount", "new-host"));
    p.unmount(new VolumeHandle("r1", OPTS, mv.hostPath(), "", Map.of()),
        CallContext.of(Duration.ofSeconds(2), "test unmount", "new-host"));
    assertEquals(Set.of(), plugin.mountIds("r1"));
    p.remove("r1", ctx(2000));
  }

  @Test
  void removeOfAMountedVolumeIsBusy() {
    VolumeProvider p = provider();
    p.create("b1", OPTS, ctx(2000));
    p.mount("b1", OPTS, null, ctx(2000));
    DvdiException e = fails(ErrorCode.VOLUME_BUSY, () -> p.remove("b1", ctx(2000)));
    assertTrue(e.getMessage().contains("in use"), e.getMessage());
  }

  @Test
  void createOfAnExistingVolumeReturnsIt() {
    VolumeProvider p = provider();
    p.create("e1", OPTS, ctx(2000));
    plugin.errFor = "/VolumeDriver.Create";
    plugin.errText = "volume e1 already exists";
    assertEquals("e1", p.create("e1", OPTS, ctx(2000)).name());
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> p.create("e2", OPTS, ctx(2000)));
    assertTrue(e.getMessage().contains("VolumeDriver.Create of volume 'e2'"), e.getMessage());
  }

  // ------------------------------------------------------------------ faults

  @Test
  void errAndHttp500ErrorsNameThePluginTheCallAndTheVolume() {
    VolumeProvider p = provider();
    p.create("f1", OPTS, ctx(2000));
    plugin.errFor = "/VolumeDriver.Mount";
    plugin.errText = "EBS attach failed: AttachmentLimitExceeded";
    DvdiException err = fails(ErrorCode.PROVIDER_FAILURE, () -> p.mount("f1", OPTS, null, ctx(2000)));
    assertEquals("Docker volume plugin 'fake' VolumeDriver.Mount of volume 'f1' (unix://" + sockets.resolve("fake.sock")
        + ") failed: EBS attach failed: AttachmentLimitExceeded", err.getMessage());
    plugin.rexrayErrors = true;
    DvdiException e500 = fails(ErrorCode.PROVIDER_FAILURE, () -> p.mount("f1", OPTS, null, ctx(2000)));
    assertTrue(e500.getMessage().contains("VolumeDriver.Mount of volume 'f1'")
        && e500.getMessage().endsWith("failed: HTTP 500: EBS attach failed: AttachmentLimitExceeded"), e500.getMessage());
  }

  @Test
  void garbageJsonIsAProviderFailureSayingSo() {
    VolumeProvider p = provider();
    p.inspect("g", ctx(2000)); // activate while the plugin is sane
    plugin.garbage = true;
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> p.mount("g", OPTS, null, ctx(2000)));
    assertTrue(e.getMessage().contains("malformed JSON") && e.getMessage().contains("VolumeDriver.Mount of volume 'g'"),
        e.getMessage());
  }

  @Test
  void aPluginThatHangsUpIsAProviderFailureAndTheRequestIsNotRepeated() {
    VolumeProvider p = provider();
    p.create("h", OPTS, ctx(2000));
    plugin.hangup = true;
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> p.mount("h", OPTS, null, ctx(2000)));
    assertTrue(e.getMessage().contains("VolumeDriver.Mount of volume 'h'")
        && e.getMessage().contains("closed the connection without answering"), e.getMessage());
    assertEquals(1, plugin.calls("/VolumeDriver.Mount"), "a sent request is never sent again");
  }

  @Test
  void aSilentPluginTimesOutWithinTheDeadline() {
    VolumeProvider p = provider();
    p.inspect("s", ctx(2000));
    plugin.silent = true;
    long ms = millis(() -> {
      DvdiException e = fails(ErrorCode.TIMEOUT, () -> p.mount("s", OPTS, null, ctx(500)));
      assertTrue(e.getMessage().contains("VolumeDriver.Mount of volume 's'") && e.getMessage().contains("no answer within"),
          e.getMessage());
    });
    assertTrue(ms >= 450 && ms < 1500, "timed out after " + ms + " ms");
  }

  @Test
  void slowAnswersWithinTheDeadlineAreFineAndBeyondItTimeOut() {
    VolumeProvider p = provider();
    p.create("slow", OPTS, ctx(2000));
    plugin.delayMillis = 300;
    assertEquals(plugin.volumeDir("slow").toString(), p.mount("slow", OPTS, null, ctx(2000)).hostPath());
    plugin.delayMillis = 1500;
    long ms = millis(() -> fails(ErrorCode.TIMEOUT, () -> p.mount("slow", OPTS, null, ctx(500))));
    assertTrue(ms < 1200, "timed out after " + ms + " ms");
  }

  @Test
  void anInterruptedCallStopsAtOnce() throws Exception {
    VolumeProvider p = provider();
    p.inspect("i", ctx(2000));
    plugin.silent = true;
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try {
      Future<?> f = ex.submit(() -> p.mount("i", OPTS, null, ctx(60_000)));
      Thread.sleep(200);
      long t = System.nanoTime();
      f.cancel(true);
      ex.shutdown();
      assertTrue(ex.awaitTermination(2, TimeUnit.SECONDS), "the call returned after the interrupt");
      assertTrue((System.nanoTime() - t) / 1_000_000 < 1000);
    } finally {
      ex.shutdownNow();
    }
  }

  @Test
  void aMissingSocketIsRetriedWithBackoffUpToTheCapThenNamesWhereItLooked() {
    VolumeProvider p = provider("absent", "connect-retry", "400ms");
    long ms = millis(() -> {
      DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> p.inspect("v", ctx(5000)));
      assertTrue(e.getMessage().contains("'absent' is unreachable") && e.getMessage().contains(sockets.resolve("absent.sock").toString())
          && e.getMessage().contains("providers.plugin.connect-retry is 400 ms"), e.getMessage());
      // 100 + 200 ms of backoff, then the last 100 ms: 4 attempts
      assertTrue(e.getMessage().contains("after 4 attempts"), e.getMessage());
    });
    assertTrue(ms >= 380 && ms < 1000, "gave up after " + ms + " ms");
  }

  @Test
  void theConnectRetryNeverOutlastsTheCallsDeadline() {
    VolumeProvider p = provider("absent"); // connect-retry 30 s
    long ms = millis(() -> {
      DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> p.inspect("v", ctx(500)));
      assertTrue(e.getMessage().contains("the call's deadline"), e.getMessage());
    });
    assertTrue(ms >= 450 && ms < 1000, "gave up after " + ms + " ms");
  }

  @Test
  void aStaleSocketThatRefusesIsRetriedAndNamed() throws IOException {
    Path stale = sockets.resolve("stale.sock");
    ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    s.bind(UnixDomainSocketAddress.of(stale));
    s.close(); // the file stays, nobody listens: ECONNREFUSED
    DvdiException e = fails(ErrorCode.PROVIDER_FAILURE, () -> provider("stale", "connect-retry", "300ms").inspect("v", ctx(2000)));
    assertTrue(e.getMessage().contains("cannot connect to unix://" + stale), e.getMessage());
  }

  @Test
  void aPluginThatComesUpWhileWeRetryIsUsed() throws Exception {
    VolumeProvider p = provider("late");
    CompletableFuture<FakePlugin> late = CompletableFuture.supplyAsync(sneaky(() -> {
      Thread.sleep(300);
      return FakePlugin.unix(sockets.resolve("late.sock"), tmp.resolve("late-volumes"));
    }));
    assertTrue(p.inspect("v", ctx(3000)).isEmpty());
    others.add(late.get());
  }

  // ------------------------------------------------------------------ discovery

  @Test
  void discoveryBySpecFilesUnixAndTcp() throws Exception {
    // .spec with a unix URL
    Files.writeString(specs.resolve("byspec.spec"), "unix://" + sockets.resolve("fake.sock") + "\n");
    lifecycle(provider("byspec"), plugin);
    // .spec with tcp://127.0.0.1:port
    FakePlugin tcp = FakePlugin.tcp(tmp.resolve("tcp-volumes"));
    others.add(tcp);
    Files.writeString(specs.resolve("bytcp.spec"), "tcp://127.0.0.1:" + tcp.port());
    lifecycle(provider("bytcp"), tcp);
    assertEquals("127.0.0.1:" + tcp.port(), tcp.requests.get(0).headers().get("host"));
    // .json, in a sub-directory, naming the tcp plugin
    Files.createDirectories(specs.resolve("byjson"));
    Files.writeString(specs.resolve("byjson/byjson.json"), "{\"Name\": \"byjson\", \"Addr\": \"tcp://127.0.0.1:" + tcp.port() + "\"}");
    lifecycle(provider("byjson"), tcp);
    assertEquals(List.of(), tcp.violations);
  }

  @Test
  void aSocketIsPreferredToASpec() throws Exception {
    Files.writeString(specs.resolve("fake.spec"), "tcp://127.0.0.1:1");
    lifecycle(provider(), plugin);
  }

  @Test
  void unusableSpecsAreConfigErrorsNamingTheFile() throws IOException {
    Map<String, String> bad = Map.of(
        "tls.json", "{\"Name\":\"tls\",\"Addr\":\"tcp://127.0.0.1:9\",\"TLSConfig\":{\"CAFile\":\"/etc/ca.pem\"}}",
        "https.spec", "https://127.0.0.1:9",
        "ftp.spec", "ftp://127.0.0.1:9",
        "noport.spec", "tcp://127.0.0.1",
        "relative.spec", "unix://run/x.sock",
        "broken.json", "{\"Addr\": ",
        "noaddr.json", "{\"Name\": \"noaddr\"}");
    for (Map.Entry<String, String> e : bad.entrySet()) {
      Files.writeString(specs.resolve(e.getKey()), e.getValue());
      String name = e.getKey().substring(0, e.getKey().indexOf('.'));
      DvdiException x = fails(ErrorCode.INVALID_CONFIG, () -> provider(name).validate("v", OPTS));
      assertTrue(x.getMessage().contains(specs.resolve(e.getKey()).toString()), x.getMessage());
    }
    assertTrue(assertThrows(DvdiException.class, () -> provider("tls").validate("v", OPTS)).getMessage()
        .contains("asks for TLS (TLSConfig.CAFile), which dvdi does not support"));
  }

  private void lifecycle(VolumeProvider p, FakePlugin server) {
    p.validate("life", OPTS);
    if (p.inspect("life", ctx(2000)).isEmpty()) {
      p.create("life", OPTS, ctx(2000));
    }
    MountedVolume mv = p.mount("life", OPTS, null, ctx(2000));
    assertEquals(server.volumeDir("life").toString(), mv.hostPath());
    p.unmount(new VolumeHandle("life", OPTS, mv.hostPath(), "", Map.of()), ctx(2000));
  }

  // ------------------------------------------------------------------ concurrency

  @Test
  void callsOnOneProviderRunInParallel() throws Exception {
    plugin.delayMillis = 100;
    VolumeProvider p = provider();
    int n = 8;
    ExecutorService ex = Executors.newFixedThreadPool(n);
    try {
      long t = System.nanoTime();
      List<Future<String>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = "par-" + i;
        fs.add(ex.submit(() -> {
          if (p.inspect(name, ctx(5000)).isEmpty()) {
            p.create(name, OPTS, ctx(5000));
          }
          MountedVolume mv = p.mount(name, OPTS, null, ctx(5000));
          p.unmount(new VolumeHandle(name, OPTS, mv.hostPath(), "", Map.of()), ctx(5000));
          return mv.hostPath();
        }));
      }
      for (int i = 0; i < n; i++) {
        assertEquals(plugin.volumeDir("par-" + i).toString(), fs.get(i).get(10, TimeUnit.SECONDS));
      }
      long ms = (System.nanoTime() - t) / 1_000_000;
      // Each worker makes 6 calls of 100 ms (inspect, create, its Get, mount, unmount; activation once): serially 8 * 600 ms.
      assertTrue(ms < 2500, "took " + ms + " ms");
      assertTrue(plugin.maxInFlight.get() >= 4, "at most " + plugin.maxInFlight.get() + " requests at once");
      assertEquals(1, plugin.calls("/Plugin.Activate"), "activated once, also when many calls start together");
    } finally {
      ex.shutdownNow();
    }
  }

  interface ThrowingSupplier<T> {
    T get() throws Exception;
  }

  static <T> Supplier<T> sneaky(ThrowingSupplier<T> s) {
    return () -> {
      try {
        return s.get();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
  }
}
