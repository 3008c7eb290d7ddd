package org.dvdi.provider.ebs;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import software.amazon.awssdk.core.SdkRequest;
import software.amazon.awssdk.core.SdkResponse;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.AbortableInputStream;
import software.amazon.awssdk.http.ExecutableHttpRequest;
import software.amazon.awssdk.http.HttpExecuteRequest;
import software.amazon.awssdk.http.HttpExecuteResponse;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.services.ec2.model.DescribeInstancesResponse;
import software.amazon.awssdk.services.ec2.model.DescribeVolumesResponse;
import software.amazon.awssdk.services.ec2.model.Volume;
import software.amazon.awssdk.services.ec2.model.VolumeAttachment;
import software.amazon.awssdk.services.ec2.model.VolumeAttachmentState;

/**
 * Where moto is too kind (it attaches at once and never fails), this makes EC2 less so:
 * <ul>
 *   <li>an HTTP client wrapper that answers chosen actions with EC2 error responses
 *       (throttling, AttachmentLimitExceeded, a device name in use) without moto seeing
 *       them, or slows them down, and counts and times the calls per action;</li>
 *   <li>an interceptor that shows chosen volumes as stuck in "attaching", or instances without
 *       their block device mappings (EC2's eventual consistency).</li>
 * </ul>
 */
final class Faults implements ExecutionInterceptor {
  /** One canned answer: HTTP status and EC2 error code and message. */
  record Fault(int status, String code, String message, long delayMs) {}

  private final Map<String, Deque<Fault>> faults = new ConcurrentHashMap<>();
  private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
  private final Map<String, Long> latencyMs = new ConcurrentHashMap<>();
  private final Map<String, Long> lateAnswerMs = new ConcurrentHashMap<>();
  private final Deque<Span> spans = new ConcurrentLinkedDeque<>();
  final Set<String> stuckAttaching = ConcurrentHashMap.newKeySet();
  /** DescribeInstances lists no block device mappings (an attachment not listed yet). */
  volatile boolean hideMappings;
  /** Volumes shown as "detaching" for some more DescribeVolumes answers, then really detached. */
  private final Map<String, Detaching> detaching = new ConcurrentHashMap<>();

  private record Detaching(AtomicInteger answers, Runnable then) {}

  /** The next {@code answers} descriptions of the volume show it detaching; then {@code then} runs. */
  void showDetaching(String volumeId, int answers, Runnable then) {
    detaching.put(volumeId, new Detaching(new AtomicInteger(answers), then));
  }

  /** Runs once, just before the next request of a type is sent (another agent racing). */
  private final Map<Class<?>, Runnable> before = new ConcurrentHashMap<>();

  void beforeNext(Class<? extends SdkRequest> type, Runnable r) {
    before.put(type, r);
  }

  /** The next {@code times} calls of {@code action} fail with {@code code}. */
  void fail(String action, int times, int status, String code, String message) {
    Deque<Fault> q = faults.computeIfAbsent(action, a -> new ConcurrentLinkedDeque<>());
    for (int i = 0; i < times; i++) {
      q.add(new Fault(status, code, message, 0));
    }
  }

  /** Every call of {@code action} takes at least {@code ms} longer. */
  void slow(String action, long ms) {
    latencyMs.put(action, ms);
  }

  /** One HTTP exchange as the provider saw it: from sending (delay included) to the answer. */
  record Span(String action, String thread, long startNanos, long endNanos) {
    boolean overlaps(Span o) {
      return startNanos < o.endNanos && o.startNanos < endNanos;
    }
  }

  /** The exchanges of {@code action} that have ended, in the order they ended. */
  List<Span> spans(String action) {
    return spans.stream().filter(x -> x.action().equals(action)).toList();
  }

  /** Every call of {@code action} is answered {@code ms} late: after EC2 (moto) acted on it. */
  void answerLate(String action, long ms) {
    lateAnswerMs.put(action, ms);
  }

  int calls(String action) {
    AtomicInteger n = calls.get(action);
    return n == null ? 0 : n.get();
  }

  /** Calls of every action so far. */
  int total() {
    return calls.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  void clear() {
    faults.clear();
    calls.clear();
    latencyMs.clear();
    lateAnswerMs.clear();
    spans.clear();
    stuckAttaching.clear();
    hideMappings = false;
    detaching.clear();
    before.clear();
  }

  @Override
  public void beforeExecution(Context.BeforeExecution context, ExecutionAttributes attrs) {
    Runnable r = before.remove(context.request().getClass());
    if (r != null) {
      r.run();
    }
  }

  /** The HTTP client to give the provider: {@code delegate} with the faults in front. */
  SdkHttpClient wrap(SdkHttpClient delegate) {
    return new SdkHttpClient() {
      @Override
      public ExecutableHttpRequest prepareRequest(HttpExecuteRequest request) {
        byte[] body = request.contentStreamProvider().map(p -> read(p.newStream())).orElse(new byte[0]);
        String action = action(new String(body, StandardCharsets.UTF_8));
        calls.computeIfAbsent(action, a -> new AtomicInteger()).incrementAndGet();
        long delay = latencyMs.getOrDefault(action, 0L);
        long late = lateAnswerMs.getOrDefault(action, 0L);
        Deque<Fault> q = faults.get(action);
        Fault f = q == null ? null : q.poll();
        if (f != null) {
          return new ExecutableHttpRequest() {
            @Override
            public HttpExecuteResponse call() {
              sleep(delay);
              String xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>" + f.code()
                  + "</Code><Message>" + f.message() + "</Message></Error></Errors><RequestID>fault-"
                  + action + "</RequestID></Response>";
              byte[] b = xml.getBytes(StandardCharsets.UTF_8);
              return HttpExecuteResponse.builder()
                  .response(SdkHttpResponse.builder().statusCode(f.status())
                      .putHeader("Content-Type", "text/xml;charset=UTF-8")
                      .putHeader("Content-Length", Integer.toString(b.length)).build())
                  .responseBody(AbortableInputStream.create(new ByteArrayInputStream(b)))
                  .build();
            }

            @Override
            public void abort() {}
          };
        }
        ExecutableHttpRequest real = delegate.prepareRequest(HttpExecuteRequest.builder()
            .request(request.httpRequest()).contentStreamProvider(() -> new ByteArrayInputStream(body)).build());
        return new ExecutableHttpRequest() {
          @Override
          public HttpExecuteResponse call() throws IOException {
            long start = System.nanoTime();
            try {
              sleep(delay);
              HttpExecuteResponse r = real.call();
              sleep(late);
              return r;
            } finally {
              spans.add(new Span(action, Thread.currentThread().getName(), start, System.nanoTime()));
            }
          }

          @Override
          public void abort() {
            real.abort();
          }
        };
      }

      @Override
      public void close() {
        delegate.close();
      }
    };
  }

  @Override
  public SdkResponse modifyResponse(Context.ModifyResponse context, ExecutionAttributes attrs) {
    if (context.response() instanceof DescribeInstancesResponse r && hideMappings) {
      return r.toBuilder().reservations(r.reservations().stream().map(x -> x.toBuilder().instances(x.instances()
          .stream().map(i -> i.toBuilder().blockDeviceMappings(List.of()).build()).toList()).build()).toList()).build();
    }
    if (!(context.response() instanceof DescribeVolumesResponse r) || stuckAttaching.isEmpty() && detaching.isEmpty()) {
      return context.response();
    }
    List<Volume> out = new ArrayList<>();
    for (Volume v : r.volumes()) {
      if (stuckAttaching.contains(v.volumeId())) {
        v = withAttachments(v, VolumeAttachmentState.ATTACHING);
      }
      Detaching d = detaching.get(v.volumeId());
      if (d != null) {
        v = withAttachments(v, VolumeAttachmentState.DETACHING);
        if (d.answers().decrementAndGet() <= 0) {
          detaching.remove(v.volumeId());
          d.then().run();
        }
      }
      out.add(v);
    }
    return r.toBuilder().volumes(out).build();
  }

  private static Volume withAttachments(Volume v, VolumeAttachmentState state) {
    List<VolumeAttachment> att = new ArrayList<>();
    for (VolumeAttachment a : v.attachments()) {
      att.add(a.toBuilder().state(state).build());
    }
    return v.toBuilder().attachments(att).build();
  }

  private static String action(String form) {
    for (String kv : form.split("&")) {
      if (kv.startsWith("Action=")) {
        return URLDecoder.decode(kv.substring(7), StandardCharsets.UTF_8);
      }
    }
    return "";
  }

  private static byte[] read(InputStream in) {
    try (in) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void sleep(long ms) {
    if (ms > 0) {
      try {
        Thread.sleep(ms);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
