package org.dvdi.provider.plugin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The plugin provider's HTTP client: one {@code POST} per connection, HTTP/1.1 over a
 * unix-domain socket or TCP, with {@code Connection: close}. Every step (connect, write, each
 * read) is bounded by the caller's deadline: a blocking unix-domain channel has no read
 * timeout, so the channel is non-blocking and waits in a {@link Selector} for at most the time
 * left. Responses may carry {@code Content-Length}, be chunked, or end with the connection.
 * A TCP host name is resolved by the JDK before connecting, which no deadline bounds: plugin
 * specs should name IP addresses (REX-Ray's {@code tcp://127.0.0.1:7981}), as they usually do.
 */
final class PluginHttp {
  static final String ACCEPT = "application/vnd.docker.plugins.v1.2+json";
  /** Docker's plugin client sends this host name on unix sockets. */
  static final String UNIX_HOST = "plugin.sock";
  static final int MAX_HEAD = 64 * 1024;
  static final int MAX_BODY = 16 * 1024 * 1024;

  /** A response: status and body (trailers and headers other than framing are not kept). */
  record Response(int status, String reason, byte[] body) {
    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /** Connecting failed before anything was sent, so the caller may try again. */
  static final class ConnectFailed extends IOException {
    private static final long serialVersionUID = 1L;

    ConnectFailed(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The deadline passed; the message says during which step. */
  static final class DeadlinePassed extends IOException {
    private static final long serialVersionUID = 1L;

    DeadlinePassed(String step) {
      super(step);
    }
  }

  private PluginHttp() {}

  /** Sends {@code body} (JSON) to {@code path} and reads the whole response by {@code deadlineNanos}. */
  static Response post(PluginDiscovery.Address addr, String path, byte[] body, long deadlineNanos) throws IOException {
    try (Exchange x = new Exchange(addr, deadlineNanos)) {
      x.connect();
      x.write(request(addr, path, body));
      return x.readResponse();
    }
  }

  static byte[] request(PluginDiscovery.Address addr, String path, byte[] body) {
    String head = "POST " + path + " HTTP/1.1\r\n"
        + "Host: " + (addr.unix() ? UNIX_HOST : addr.host() + ":" + addr.port()) + "\r\n"
        + "User-Agent: dvdi\r\n"
        + "Accept: " + ACCEPT + "\r\n"
        + "Content-Type: application/json\r\n"
        + "Content-Length: " + body.length + "\r\n"
        + "Connection: close\r\n"
        + "\r\n";
    byte[] h = head.getBytes(StandardCharsets.US_ASCII);
    byte[] all = new byte[h.length + body.length];
    System.arraycopy(h, 0, all, 0, h.length);
    System.arraycopy(body, 0, all, h.length, body.length);
    return all;
  }

  /** One connection: a non-blocking channel, its selector, and a read buffer. */
  private static final class Exchange implements AutoCloseable {
    private final PluginDiscovery.Address addr;
    private final long deadline;
    private final SocketChannel ch;
    private final Selector sel;
    private final SelectionKey key;
    private final ByteBuffer in = ByteBuffer.allocate(16 * 1024).flip();

    Exchange(PluginDiscovery.Address addr, long deadlineNanos) throws IOException {
      this.addr = addr;
      this.deadline = deadlineNanos;
      SocketChannel c = addr.unix() ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
      Selector s = null;
      try {
        c.configureBlocking(false);
        if (!addr.unix()) {
          c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
        s = Selector.open();
        this.key = c.register(s, 0);
      } catch (IOException | RuntimeException e) {
        c.close();
        if (s != null) {
          s.close();
        }
        throw e;
      }
      this.ch = c;
      this.sel = s;
    }

    void connect() throws IOException {
      SocketAddress sa = addr.unix() ? UnixDomainSocketAddress.of(addr.socket()) : new InetSocketAddress(addr.host(), addr.port());
      try {
        if (!ch.connect(sa)) {
          while (!ch.finishConnect()) {
            await(SelectionKey.OP_CONNECT, "connecting");
          }
        }
      } catch (DeadlinePassed | InterruptedIOException e) {
        throw e;
      } catch (IOException e) {
        throw new ConnectFailed(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), e);
      }
    }

    void write(byte[] bytes) throws IOException {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        if (ch.write(b) == 0) {
          await(SelectionKey.OP_WRITE, "sending the request");
        }
      }
    }

    Response readResponse() throws IOException {
      while (true) {
        String status = line("waiting for the answer");
        String[] parts = status.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
          throw new IOException("not an HTTP response: '" + printable(status) + "'");
        }
        int code;
        try {
          code = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
          throw new IOException("bad HTTP status line: '" + printable(status) + "'");
        }
        long length = -1;
        boolean chunked = false;
        int headBytes = status.length();
        for (String h = line("reading headers"); !h.isEmpty(); h = line("reading headers")) {
          headBytes += h.length();
          if (headBytes > MAX_HEAD) {
            throw new IOException("HTTP headers longer than " + MAX_HEAD + " bytes");
          }
          int colon = h.indexOf(':');
          if (colon <= 0) {
            continue;
          }
          String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
          String value = h.substring(colon + 1).trim();
          if (name.equals("content-length")) {
            try {
              length = Long.parseLong(value);
            } catch (NumberFormatException e) {
              throw new IOException("bad Content-Length '" + printable(value) + "'");
            }
          } else if (name.equals("transfer-encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
            chunked = true;
          }
        }
        if (code >= 100 && code < 200) {
          continue; // 100 Continue and friends: the real answer follows
        }
        String reason = parts.length > 2 ? parts[2] : "";
        if (code == 204 || code == 304) {
          return new Response(code, reason, new byte[0]);
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (chunked) {
          chunks(body);
        } else if (length >= 0) {
          if (length > MAX_BODY) {
            throw new IOException("answer of " + length + " bytes is larger than " + MAX_BODY);
          }
          bytes(length, body);
        } else {
          untilClosed(body);
        }
        return new Response(code, reason, body.toByteArray());
      }
    }

    private void chunks(ByteArrayOutputStream body) throws IOException {
      while (true) {
        String sizeLine = line("reading a chunk");
        int semi = sizeLine.indexOf(';');
        String hex = (semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).trim();
        long size;
        try {
          size = Long.parseLong(hex, 16);
        } catch (NumberFormatException e) {
          throw new IOException("bad chunk size '" + printable(sizeLine) + "'");
        }
        if (size < 0 || body.size() + size > MAX_BODY) {
          throw new IOException("chunked answer larger than " + MAX_BODY + " bytes");
        }
        if (size == 0) {
          while (!line("reading trailers").isEmpty()) {
            // trailers are not used
          }
          return;
        }
        bytes(size, body);
        if (!line("reading a chunk").isEmpty()) {
          throw new IOException("chunk of " + size + " bytes not followed by CRLF");
        }
      }
    }

    private void bytes(long n, ByteArrayOutputStream out) throws IOException {
      long left = n;
      while (left > 0) {
        if (!in.hasRemaining() && !fill("reading the answer")) {
          throw new IOException("connection closed after " + (n - left) + " of " + n + " bytes of the answer");
        }
        int k = (int) Math.min(left, in.remaining());
        out.write(in.array(), in.arrayOffset() + in.position(), k);
        in.position(in.position() + k);
        left -= k;
      }
    }

    private void untilClosed(ByteArrayOutputStream out) throws IOException {
      do {
        out.write(in.array(), in.arrayOffset() + in.position(), in.remaining());
        in.position(in.limit());
        if (out.size() > MAX_BODY) {
          throw new IOException("answer larger than " + MAX_BODY + " bytes");
        }
      } while (fill("reading the answer"));
    }

    /** One line without its CRLF (or LF). */
    private String line(String step) throws IOException {
      StringBuilder sb = new StringBuilder();
      while (true) {
        if (!in.hasRemaining() && !fill(step)) {
          throw new IOException(sb.length() == 0 && step.startsWith("waiting")
              ? "the plugin closed the connection without answering" : "connection closed while " + step);
        }
        byte b = in.get();
        if (b == '\n') {
          int end = sb.length();
          return end > 0 && sb.charAt(end - 1) == '\r' ? sb.substring(0, end - 1) : sb.toString();
        }
        sb.append((char) (b & 0xff));
        if (sb.length() > MAX_HEAD) {
          throw new IOException("line longer than " + MAX_HEAD + " bytes while " + step);
        }
      }
    }

    /** Reads more into the buffer; false at end of stream. */
    private boolean fill(String step) throws IOException {
      in.compact();
      try {
        while (true) {
          int n = ch.read(in);
          if (n > 0) {
            return true;
          }
          if (n < 0) {
            return false;
          }
          await(SelectionKey.OP_READ, step);
        }
      } finally {
        in.flip();
      }
    }

    /** Waits until the channel is ready for {@code ops}, at most until the deadline. */
    private void await(int ops, String step) throws IOException {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new DeadlinePassed(step);
      }
      key.interestOps(ops);
      sel.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left + 999_999)));
      sel.selectedKeys().clear();
      if (Thread.currentThread().isInterrupted()) {
        throw new InterruptedIOException(step + ": interrupted");
      }
    }

    @Override
    public void close() throws IOException {
      try {
        sel.close();
      } finally {
        ch.close();
      }
    }
  }

  static String printable(String s) {
    String t = s.length() > 200 ? s.substring(0, 200) + "..." : s;
    return t.replaceAll("[^\\x20-\\x7e]", "?");
  }
}
