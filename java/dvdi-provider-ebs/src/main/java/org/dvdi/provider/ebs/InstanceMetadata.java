package org.dvdi.provider.ebs;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;

/**
 * Who this EC2 instance is (region, availability zone, instance id), read from the instance
 * metadata service the IMDSv2 way: one {@code PUT /latest/api/token}, then GETs carrying the
 * token. Every request is short (the configured timeout, never past the call's deadline) and
 * goes straight to the endpoint, never through a proxy. If the token request fails (IMDSv1
 * only, or an old proxy in between) the GETs are tried without a token once.
 */
final class InstanceMetadata {
  private static final Logger LOG = Logger.getLogger(InstanceMetadata.class.getName());

  static final String TOKEN_PATH = "/latest/api/token";
  static final String TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds";
  static final String TOKEN_HEADER = "X-aws-ec2-metadata-token";
  static final String REGION_PATH = "/latest/meta-data/placement/region";
  static final String ZONE_PATH = "/latest/meta-data/placement/availability-zone";
  static final String INSTANCE_PATH = "/latest/meta-data/instance-id";

  private static final Pattern ZONE_OF_REGION = Pattern.compile("([a-z]{2}(-[a-z]+)+-[0-9]{1,2})[a-z]");
  private static final int MAX_BODY = 4096;

  /** The facts dvdi needs. */
  record Identity(String region, String availabilityZone, String instanceId) {}

  private final URI endpoint;
  private final Duration timeout;

  InstanceMetadata(URI endpoint, Duration timeout) {
    this.endpoint = endpoint;
    this.timeout = timeout;
  }

  /**
   * Fills in what {@code cfg} leaves unset. Settings win; the metadata service is asked only
   * when something is missing.
   */
  Identity resolve(EbsConfig cfg, CallContext ctx) {
    if (cfg.region.isPresent() && cfg.availabilityZone.isPresent() && cfg.instanceId.isPresent()) {
      return new Identity(cfg.region.get(), cfg.availabilityZone.get(), cfg.instanceId.get());
    }
    Optional<String> token = token(ctx);
    String zone = cfg.availabilityZone.orElseGet(() -> get(ZONE_PATH, token, ctx, "availability zone"));
    String instance = cfg.instanceId.orElseGet(() -> get(INSTANCE_PATH, token, ctx, "instance id"));
    String region = cfg.region.orElseGet(() -> {
      try {
        return get(REGION_PATH, token, ctx, "region");
      } catch (DvdiException e) {
        // Older metadata services lack placement/region; a zone name ends with a letter.
        var m = ZONE_OF_REGION.matcher(zone);
        if (m.matches()) {
          return m.group(1);
        }
        throw e;
      }
    });
    LOG.info("EC2 instance " + instance + " in " + zone + " (" + region + "), from the instance metadata service at "
        + endpoint);
    return new Identity(region, zone, instance);
  }

  /** An IMDSv2 session token, or empty when the service gives none (IMDSv1 only). */
  Optional<String> token(CallContext ctx) {
    try {
      HttpURLConnection c = open(TOKEN_PATH, ctx);
      c.setRequestMethod("PUT");
      c.setRequestProperty(TOKEN_TTL_HEADER, "21600");
      int status = c.getResponseCode();
      if (status == 200) {
        return Optional.of(body(c));
      }
      LOG.fine("instance metadata token request answered HTTP " + status + "; trying IMDSv1");
      return Optional.empty();
    } catch (IOException e) {
      LOG.fine("instance metadata token request failed (" + e + "); trying IMDSv1");
      return Optional.empty();
    }
  }

  /** GETs {@code path}; fails with PROVIDER_FAILURE saying how to configure around it. */
  String get(String path, Optional<String> token, CallContext ctx, String what) {
    try {
      HttpURLConnection c = open(path, ctx);
      token.ifPresent(t -> c.setRequestProperty(TOKEN_HEADER, t));
      int status = c.getResponseCode();
      if (status != 200) {
        throw failure(what, "HTTP " + status + " for " + path + (token.isEmpty() ? " (without an IMDSv2 token)" : ""), null);
      }
      String v = body(c).strip();
      if (v.isEmpty()) {
        throw failure(what, "empty answer for " + path, null);
      }
      return v;
    } catch (IOException e) {
      throw failure(what, e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()), e);
    }
  }

  private HttpURLConnection open(String path, CallContext ctx) throws IOException {
    ctx.check("asking the instance metadata service");
    long ms = Math.max(1, Math.min(timeout.toMillis(), ctx.remaining().toMillis()));
    HttpURLConnection c = (HttpURLConnection) endpoint.resolve(path).toURL().openConnection(Proxy.NO_PROXY);
    c.setConnectTimeout((int) ms);
    c.setReadTimeout((int) ms);
    c.setUseCaches(false);
    c.setInstanceFollowRedirects(false);
    return c;
  }

  private static String body(HttpURLConnection c) throws IOException {
    try (InputStream in = c.getInputStream()) {
      return new String(in.readNBytes(MAX_BODY), StandardCharsets.UTF_8);
    }
  }

  private DvdiException failure(String what, String detail, Throwable cause) {
    return DvdiException.provider("cannot learn this instance's " + what + " from the instance metadata service at "
        + endpoint + " (" + detail + "). On EC2, check the instance's metadata options (enabled; for containers"
        + " an IMDSv2 hop limit of 2). Elsewhere, set providers.ebs.region, providers.ebs.availability-zone and"
        + " providers.ebs.instance-id", cause);
  }
}
