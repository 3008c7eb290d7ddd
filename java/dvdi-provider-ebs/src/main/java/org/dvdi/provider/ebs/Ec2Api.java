package org.dvdi.provider.ebs;

import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.dvdi.spi.CallContext;
import org.dvdi.spi.DvdiException;
import org.dvdi.spi.ErrorCode;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.AwsRequestOverrideConfiguration;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.ApiCallAttemptTimeoutException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.Ec2ClientBuilder;

/**
 * The EC2 client and the one way dvdi calls it: every call is bounded by the calling
 * operation's deadline (the SDK's apiCallTimeout, which covers its retries, set from
 * {@link CallContext#remaining()}), throttling and 5xx answers are retried by the SDK's
 * standard strategy with backoff, and every failure becomes a {@link Failure}: a
 * DvdiException with an error code and a message that names the action and AWS's error code.
 *
 * <p>HTTP goes through the JDK's HttpURLConnection (the SDK's url-connection-client): dvdi
 * makes blocking calls from its own threads, so the Apache and Netty clients would only add
 * weight to the jar the agent's JVM loads.
 */
final class Ec2Api implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Ec2Api.class.getName());
  private static final int MAX_AWS_MESSAGE = 600;

  /** Test seams: wrap the HTTP client (faults, latency) and add SDK interceptors. */
  record Hooks(UnaryOperator<SdkHttpClient> http, List<ExecutionInterceptor> interceptors) {
    static final Hooks NONE = new Hooks(UnaryOperator.identity(), List.of());
  }

  /** A failed EC2 call: a DvdiException that also carries AWS's error code (or empty). */
  static final class Failure extends DvdiException {
    private static final long serialVersionUID = 1L;
    private final String awsCode;

    Failure(ErrorCode code, String awsCode, String message, Throwable cause) {
      super(code, message, cause);
      this.awsCode = awsCode;
    }

    String awsCode() {
      return awsCode;
    }

    /**
     * Whether EC2 answered with a refusal (a 4xx error, or throttling), so the request changed
     * nothing. A timeout, a lost connection or a server error may have acted.
     */
    boolean refused() {
      return getCause() instanceof AwsServiceException e
          && (e.statusCode() >= 400 && e.statusCode() < 500 || e.isThrottlingException());
    }
  }

  private final SdkHttpClient http;
  private final Ec2Client client;
  private final Duration attemptTimeout;
  private final String endpointText;
  private final int maxAttempts;

  Ec2Api(EbsConfig cfg, String region, Hooks hooks) {
    this.attemptTimeout = cfg.attemptTimeout;
    this.maxAttempts = cfg.maxAttempts;
    this.http = hooks.http().apply(UrlConnectionHttpClient.builder()
        .connectionTimeout(Duration.ofSeconds(3))
        .socketTimeout(cfg.attemptTimeout)
        .build());
    AwsCredentialsProvider credentials = cfg.staticCredentials()
        .<AwsCredentialsProvider>map(c -> StaticCredentialsProvider.create(AwsBasicCredentials.create(c[0], c[1])))
        .orElseGet(() -> DefaultCredentialsProvider.builder().build());
    ClientOverrideConfiguration.Builder over = ClientOverrideConfiguration.builder()
        .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder().maxAttempts(cfg.maxAttempts).build());
    hooks.interceptors().forEach(over::addExecutionInterceptor);
    Ec2ClientBuilder b = Ec2Client.builder()
        .region(Region.of(region))
        .credentialsProvider(credentials)
        .httpClient(http)
        .overrideConfiguration(over.build());
    cfg.endpoint.ifPresent(b::endpointOverride);
    this.endpointText = cfg.endpoint.map(Object::toString).orElse("the " + region + " endpoint");
    this.client = b.build();
  }

  Ec2Client client() {
    return client;
  }

  /**
   * Runs one EC2 action. {@code fn} gets the request override to set on its request (it
   * carries the deadline). {@code action} is AWS's name for it, used in errors.
   */
  <T> T call(CallContext ctx, String action, Function<AwsRequestOverrideConfiguration, T> fn) {
    Duration left = ctx.remaining();
    if (left.isNegative() || left.isZero()) {
      throw DvdiException.timeout(ctx.operation() + ": deadline passed before EC2 " + action);
    }
    AwsRequestOverrideConfiguration o = AwsRequestOverrideConfiguration.builder()
        .apiCallTimeout(left)
        .apiCallAttemptTimeout(left.compareTo(attemptTimeout) < 0 ? left : attemptTimeout)
        .build();
    long start = System.nanoTime();
    try {
      T r = fn.apply(o);
      if (LOG.isLoggable(Level.FINE)) {
        LOG.fine(ctx.operation() + ": EC2 " + action + " in " + (System.nanoTime() - start) / 1_000_000 + " ms");
      }
      return r;
    } catch (ApiCallTimeoutException | ApiCallAttemptTimeoutException e) {
      throw new Failure(ErrorCode.TIMEOUT, "", ctx.operation() + ": EC2 " + action + " did not answer in time ("
          + (System.nanoTime() - start) / 1_000_000 + " ms, at the call's deadline or " + attemptTimeout.toMillis()
          + " ms per attempt)", e);
    } catch (AbortedException e) {
      throw new Failure(ErrorCode.TIMEOUT, "", ctx.operation() + ": EC2 " + action
          + " was interrupted (the call was abandoned)", e);
    } catch (AwsServiceException e) {
      throw serviceFailure(ctx, action, e);
    } catch (SdkException e) {
      throw new Failure(ErrorCode.PROVIDER_FAILURE, "", ctx.operation() + ": EC2 " + action + " at " + endpointText
          + " failed: " + shorten(e.getMessage()), e);
    } catch (DvdiException e) {
      throw e;
    } catch (RuntimeException e) {
      // The SDK's timeout aborts the connection from another thread; HttpURLConnection may
      // then fail with an unchecked exception (seen: an NPE in connect) instead of the
      // SDK's timeout exception. At the deadline that is a timeout like any other.
      if (ctx.remaining().toMillis() <= 5) {
        throw new Failure(ErrorCode.TIMEOUT, "", ctx.operation() + ": EC2 " + action + " did not answer by the call's"
            + " deadline (" + (System.nanoTime() - start) / 1_000_000 + " ms)", e);
      }
      throw new Failure(ErrorCode.PROVIDER_FAILURE, "", ctx.operation() + ": EC2 " + action + " at " + endpointText
          + " failed unexpectedly: " + e, e);
    }
  }

  private Failure serviceFailure(CallContext ctx, String action, AwsServiceException e) {
    String code = e.awsErrorDetails() == null || e.awsErrorDetails().errorCode() == null ? ""
        : e.awsErrorDetails().errorCode();
    String msg = e.awsErrorDetails() == null || e.awsErrorDetails().errorMessage() == null ? e.getMessage()
        : e.awsErrorDetails().errorMessage();
    String head = ctx.operation() + ": EC2 " + action + " failed: " + code + ": " + shorten(msg)
        + (e.requestId() == null ? "" : " (request id " + e.requestId() + ")");
    switch (code) {
      case "InvalidVolume.NotFound":
        return new Failure(ErrorCode.VOLUME_NOT_FOUND, code, head, e);
      case "VolumeInUse":
        return new Failure(ErrorCode.VOLUME_BUSY, code, head, e);
      case "AttachmentLimitExceeded":
        return new Failure(ErrorCode.PROVIDER_FAILURE, code, head + ". This instance has reached its limit of"
            + " attached EBS volumes (AttachmentLimitExceeded; 28 slots shared with network interfaces on most"
            + " Nitro types): detach a volume or run the task on another agent", e);
      case "RequestLimitExceeded":
      case "Throttling":
        return new Failure(ErrorCode.PROVIDER_FAILURE, code, head + ". EC2 throttled the account's API calls even"
            + " after " + maxAttempts + " attempts with backoff (providers.ebs.max-attempts)", e);
      case "AuthFailure":
      case "UnauthorizedOperation":
      case "InvalidClientTokenId":
      case "SignatureDoesNotMatch":
      case "OptInRequired":
        return new Failure(ErrorCode.PROVIDER_FAILURE, code, head + ". Check the agent's AWS credentials and"
            + " their IAM policy (ec2:DescribeVolumes, DescribeInstances, CreateVolume, CreateTags, AttachVolume,"
            + " DetachVolume, DeleteVolume)", e);
      default:
        return new Failure(ErrorCode.PROVIDER_FAILURE, code, head, e);
    }
  }

  private static String shorten(String s) {
    if (s == null) {
      return "";
    }
    return s.length() > MAX_AWS_MESSAGE ? s.substring(0, MAX_AWS_MESSAGE) + "..." : s;
  }

  @Override
  public void close() {
    client.close();
    http.close();
  }
}
