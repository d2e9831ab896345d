// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.EgressProxy;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.Route;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection and its upstream leg: both channels, their keys, state and counters in one small object.
 * Touched by its loop thread only. An idle splice holds no buffer: {@link #toUpstream} and {@link #toClient} are
 * only set while a peer is blocked. It sits in its loop's intrusive list (prev/next), which is also the timer
 * structure: the loop scans deadlines coarsely instead of scheduling a task per connection.
 */
final class Splice {
  private static final Logger LOG = LoggerFactory.getLogger(Splice.class);

  static final int ROUTING = 0;
  static final int CONNECTING = 1;
  /** Connected to an egress proxy, waiting for its CONNECT (or SOCKS5) answer; the connect deadline still runs. */
  static final int TUNNELING = 2;
  static final int SPLICING = 3;
  static final int CLOSED = 4;

  private static final int CLIENT_EOF = 1;
  private static final int UPSTREAM_EOF = 2;

  final Loop loop;
  final SocketChannel client;
  final InboundConnection connection;
  final long start;
  private @Nullable SocketChannel upstream;
  private @Nullable SelectionKey clientKey;
  private @Nullable SelectionKey upstreamKey;
  private @Nullable List<Connector.Attempt> attempts;
  private Connector.@Nullable Attempt attempt;
  private @Nullable Tunnel tunnel;
  private int selfLoops;
  private @Nullable StringBuilder failures;
  private @Nullable InetSocketAddress upstreamAddress;
  private @Nullable ByteBuffer toUpstream;
  private @Nullable ByteBuffer toClient;
  int state;
  private int flags;
  private int nextCandidate;
  private long deadline;
  private long lastActive;
  long bytesUp;
  long bytesDown;
  @Nullable Splice prev;
  @Nullable Splice next;

  Splice(Loop loop, SocketChannel client, InboundConnection connection, long start) {
    this.loop = loop;
    this.client = client;
    this.connection = connection;
    this.start = start;
  }

  @Nullable InetSocketAddress upstreamAddress() {
    return state == SPLICING || state == CLOSED ? upstreamAddress : null;
  }

  /** When this splice's current timer fires ({@code Long.MAX_VALUE}: none). */
  long dueAt(long idleNanos) {
    if (state == ROUTING || state == CONNECTING || state == TUNNELING) {
      return deadline;
    }
    if (state == SPLICING && idleNanos > 0) {
      return lastActive + idleNanos;
    }
    return Long.MAX_VALUE;
  }

  void route() {
    state = ROUTING;
    deadline = loop.now + loop.settings.routeTimeoutNanos();
    loop.schedule(deadline);
    CompletionStage<Route> stage;
    try {
      stage = loop.settings.router().route(connection);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      onRoute(null, e);
      return;
    }
    if (stage == null) {
      onRoute(null, new NullPointerException("router returned null"));
      return;
    }
    // The lambda lives only until the stage completes; nothing per connection is kept after that.
    stage.whenComplete((r, e) -> loop.routeCompleted(this, r, e));
  }

  void onRoute(@Nullable Route route, @Nullable Throwable failure) {
    if (state != ROUTING) {
      return; // timed out or closed meanwhile
    }
    if (failure != null || route == null) {
      loop.counters.rejected(RejectReason.ROUTER_ERROR);
      LOG.debug("{}: router failed", connection, failure);
      close(CloseReason.ROUTE_REJECTED, false, false);
      return;
    }
    RejectReason rejection = route.rejection();
    if (rejection != null) {
      loop.counters.rejected(rejection);
      LOG.debug("{}: rejected {} {}", connection, rejection, route.detail());
      close(rejection == RejectReason.REFUSED_TARGET ? CloseReason.TARGET_REFUSED : CloseReason.ROUTE_REJECTED,
          false, false);
      return;
    }
    loop.listener.routed(connection, route);
    // ---- the connect stage (egress): direct addresses or tunnels through proxies, the same for every front door
    StringBuilder why = new StringBuilder();
    attempts = loop.engine.connector.attempts(route, loop.now, why);
    if (why.length() > 0) {
      failures = why;
    }
    nextCandidate = 0;
    connectNext();
  }

  private void connectNext() {
    List<Connector.Attempt> list = attempts;
    while (list != null && nextCandidate < list.size()) {
      Connector.Attempt at = list.get(nextCandidate++);
      InetSocketAddress a = at.connectTo();
      if (loop.engine.connector.isSelf(a)) {
        selfLoop(at);
        continue;
      }
      attempt = at;
      SocketChannel ch = null;
      try {
        // an IPv4 socket for an IPv4 target: the JDK's default dual-stack socket costs an IPV6_V6ONLY call more
        ch = SocketChannel.open(a.getAddress() instanceof Inet4Address ? StandardProtocolFamily.INET
            : StandardProtocolFamily.INET6);
        upstream = ch; // from here on connectFailed closes it
        ch.configureBlocking(false);
        loop.configure(ch);
        // one budget per attempt: the TCP connect and, through a proxy, its answer
        deadline = loop.now + loop.settings.connectTimeoutNanos();
        if (ch.connect(a)) {
          connected();
          return;
        }
        upstreamKey = ch.register(loop.selector, SelectionKey.OP_CONNECT, this);
        state = CONNECTING;
        loop.schedule(deadline);
        return;
      } catch (IOException | RuntimeException e) {
        connectFailed(at, e.toString());
      }
    }
    if (list != null && selfLoops > 0 && selfLoops == list.size()) {
      loop.counters.rejected(RejectReason.SELF_LOOP);
      close(CloseReason.TARGET_REFUSED, false, false);
      return;
    }
    LOG.debug("{}: every upstream candidate failed: {}", connection, failures);
    close(CloseReason.CONNECT_FAILED, false, false);
  }

  /** A candidate that is this proxy itself (its plan, its listeners): never connected to, counted and logged. */
  private void selfLoop(Connector.Attempt at) {
    selfLoops++;
    loop.counters.selfLoops.increment();
    String msg = at.connectTo() + " is this proxy's own address (a plan or listen address): refusing to connect to "
        + "itself; check upstream.hosts and what upstream.dns answers for " + at.host();
    if (loop.engine.connector.warnDue("self " + at.connectTo(), loop.now)) {
      LOG.warn("{}: {} (logged once a minute per address)", connection, msg);
    } else {
      LOG.debug("{}: {}", connection, msg);
    }
    appendFailure(at + ": self-loop refused");
  }

  private void appendFailure(String text) {
    if (failures == null) {
      failures = new StringBuilder();
    } else {
      failures.append("; ");
    }
    failures.append(text);
  }

  private void connectFailed(Connector.Attempt at, String why) {
    loop.counters.connectFailures.increment();
    loop.engine.connector.failed(at.connectTo(), loop.now);
    appendFailure(at + ": " + why);
    tunnel = null;
    SocketChannel ch = upstream;
    upstream = null;
    upstreamKey = null;
    if (ch != null) {
      closeChannel(ch, false);
    }
  }

  private void finishConnect() {
    SocketChannel ch = upstream;
    Connector.Attempt at = attempt;
    if (ch == null || at == null) {
      return;
    }
    try {
      if (!ch.finishConnect()) {
        return;
      }
    } catch (IOException e) {
      connectFailed(at, e.toString());
      connectNext();
      return;
    }
    connected();
  }

  /** The TCP connection is up: through a proxy the tunnel handshake starts, else the splice. */
  private void connected() {
    Connector.Attempt at = attempt;
    SocketChannel up = upstream;
    if (at == null || up == null) {
      return;
    }
    EgressProxy proxy = at.proxy();
    if (proxy == null) {
      loop.engine.connector.succeeded(at.connectTo());
      startSplicing(null);
      return;
    }
    state = TUNNELING;
    loop.schedule(deadline);
    Tunnel t = new Tunnel(proxy, at.host(), at.port(), Math.min(4096, loop.settings.bufferSize()));
    tunnel = t;
    try {
      if (upstreamKey == null) {
        upstreamKey = up.register(loop.selector, SelectionKey.OP_WRITE, this);
      }
    } catch (IOException e) {
      connectFailed(at, e.toString());
      connectNext();
      return;
    }
    tunnelIo(SelectionKey.OP_WRITE);
  }

  /** One step of the proxy handshake: write what is due, read the answer; never blocks. Loop thread. */
  private void tunnelIo(int ops) {
    Tunnel t = tunnel;
    SocketChannel up = upstream;
    Connector.Attempt at = attempt;
    if (t == null || up == null || at == null) {
      return;
    }
    try {
      if ((ops & SelectionKey.OP_READ) != 0) {
        int n = up.read(t.input());
        if (n < 0) {
          tunnelFailed(at, t, false, "closed the connection during the handshake");
          return;
        }
        if (n > 0 || !t.input().hasRemaining()) {
          int r = t.advance();
          if (r == Tunnel.FAILED) {
            tunnelFailed(at, t, t.isConfigProblem(), t.failure());
            return;
          }
          if (r == Tunnel.ESTABLISHED) {
            tunnel = null;
            loop.engine.connector.succeeded(at.connectTo());
            LOG.debug("{}: tunnel to {} open", connection, at);
            startSplicing(t.leftover());
            return;
          }
        }
      }
      ByteBuffer out = t.output();
      if (out.hasRemaining()) {
        up.write(out);
      }
    } catch (IOException e) {
      tunnelFailed(at, t, false, e.toString());
      return;
    }
    SelectionKey k = upstreamKey;
    if (k != null) {
      setInterest(k, t.output().hasRemaining() ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
    }
  }

  private void tunnelFailed(Connector.Attempt at, Tunnel t, boolean configProblem, String why) {
    String msg = "egress proxy " + t.proxy + " " + why;
    if (configProblem) {
      loop.counters.proxyRefusals.increment();
      if (loop.engine.connector.warnDue("proxy " + t.proxy + " " + why, loop.now)) {
        LOG.warn("{} (a configuration problem; logged once a minute)", msg);
      }
    } else {
      loop.counters.proxyFailures.increment();
    }
    LOG.debug("{}: {}", connection, msg);
    connectFailed(at, msg);
    connectNext();
  }

  /**
   * Starts splicing once the upstream leg is ready (directly connected, or the tunnel open). The one place where
   * bytes held before the splice are handed to it: {@code firstToClient} are upstream bytes that came with the
   * proxy's answer; bytes the client sent meanwhile are still in its socket (the client is read only from here on).
   */
  private void startSplicing(@Nullable ByteBuffer firstToClient) {
    SocketChannel up = upstream;
    Connector.Attempt at = attempt;
    InetSocketAddress a = at == null ? null : at.connectTo();
    if (up == null || a == null) {
      return;
    }
    upstreamAddress = a;
    state = SPLICING;
    attempts = null;
    attempt = null;
    failures = null;
    deadline = Long.MAX_VALUE;
    lastActive = loop.now;
    try {
      // The client is registered, and so read, only now that the upstream is connected.
      clientKey = client.register(loop.selector, SelectionKey.OP_READ, this);
      if (upstreamKey == null) {
        upstreamKey = up.register(loop.selector, SelectionKey.OP_READ, this);
      } else {
        upstreamKey.interestOps(SelectionKey.OP_READ);
      }
    } catch (IOException e) {
      // the client channel was closed under us: nothing to splice
      close(CloseReason.CLIENT_GONE, false, false);
      return;
    }
    if (firstToClient != null && firstToClient.hasRemaining()) {
      // at most the tunnel's answer buffer (4 KiB or less), so it fits one pooled buffer
      ByteBuffer b = loop.pool.acquire();
      int n = firstToClient.remaining();
      b.put(firstToClient).flip();
      toClient = b;
      bytesDown += n;
      loop.counters.bytesDown.add(n);
    }
    loop.listener.connected(connection, a);
    LOG.debug("{}: connected to {}", connection, at);
    updateInterest();
    if (loop.settings.idleTimeoutNanos() > 0) {
      loop.schedule(lastActive + loop.settings.idleTimeoutNanos());
    }
  }

  void onTimeout() {
    if (state == ROUTING) {
      loop.counters.rejected(RejectReason.ROUTE_TIMEOUT);
      LOG.debug("{}: route timed out", connection);
      close(CloseReason.ROUTE_TIMEOUT, false, false);
    } else if (state == CONNECTING || state == TUNNELING) {
      Connector.Attempt at = attempt;
      Tunnel t = tunnel;
      if (at == null) {
        close(CloseReason.CONNECT_FAILED, false, false);
      } else if (state == TUNNELING && t != null) {
        tunnelFailed(at, t, false, "did not answer within the connect timeout");
      } else {
        connectFailed(at, "connect timed out");
        connectNext();
      }
    } else if (state == SPLICING) {
      LOG.debug("{}: idle timeout", connection);
      close(CloseReason.IDLE_TIMEOUT, false, false);
    }
  }

  /** Handles readiness of one of this splice's keys; runs on the loop thread. */
  void onReady(SelectionKey key) {
    int ops = key.readyOps();
    if (key == upstreamKey) {
      if (state == CONNECTING) {
        if ((ops & SelectionKey.OP_CONNECT) != 0) {
          finishConnect();
        }
        return;
      }
      if (state == TUNNELING) {
        tunnelIo(ops);
        return;
      }
      if ((ops & SelectionKey.OP_WRITE) != 0) {
        flushToUpstream();
      }
      if ((ops & SelectionKey.OP_READ) != 0 && state == SPLICING) {
        readUpstream();
      }
    } else if (key == clientKey) {
      if ((ops & SelectionKey.OP_WRITE) != 0) {
        flushToClient();
      }
      if ((ops & SelectionKey.OP_READ) != 0 && state == SPLICING) {
        readClient();
      }
    }
    updateInterest();
  }

  private void readClient() {
    SocketChannel up = upstream;
    if (up == null || toUpstream != null) {
      return;
    }
    ByteBuffer buf = loop.scratch;
    buf.clear();
    int n;
    try {
      n = client.read(buf);
    } catch (IOException e) {
      LOG.debug("{}: client read failed: {}", connection, e.toString());
      close(bytesUp == 0 && bytesDown == 0 ? CloseReason.CLIENT_GONE : CloseReason.CLIENT_RESET, false, true);
      return;
    }
    if (n < 0) {
      if (bytesUp == 0 && bytesDown == 0) {
        // A device always speaks first (TLS ClientHello): EOF before any byte means it gave up waiting.
        close(CloseReason.CLIENT_GONE, false, false);
        return;
      }
      flags |= CLIENT_EOF;
      if ((flags & UPSTREAM_EOF) != 0) {
        close(CloseReason.COMPLETED, false, false); // the close sends the upstream its FIN
        return;
      }
      try {
        up.shutdownOutput();
      } catch (IOException e) {
        close(CloseReason.UPSTREAM_RESET, true, false);
      }
      return;
    }
    if (n == 0) {
      return;
    }
    bytesUp += n;
    loop.counters.bytesUp.add(n);
    lastActive = loop.now;
    buf.flip();
    try {
      up.write(buf);
    } catch (IOException e) {
      LOG.debug("{}: upstream write failed: {}", connection, e.toString());
      close(CloseReason.UPSTREAM_RESET, true, false);
      return;
    }
    if (buf.hasRemaining()) {
      ByteBuffer b = loop.pool.acquire();
      b.put(buf).flip();
      toUpstream = b;
    }
  }

  private void readUpstream() {
    if (toClient != null) {
      return;
    }
    SocketChannel up = upstream;
    if (up == null) {
      return;
    }
    ByteBuffer buf = loop.scratch;
    buf.clear();
    int n;
    try {
      n = up.read(buf);
    } catch (IOException e) {
      LOG.debug("{}: upstream read failed: {}", connection, e.toString());
      close(CloseReason.UPSTREAM_RESET, true, false);
      return;
    }
    if (n < 0) {
      flags |= UPSTREAM_EOF;
      if ((flags & CLIENT_EOF) != 0) {
        close(CloseReason.COMPLETED, false, false); // the close sends the client its FIN
        return;
      }
      try {
        client.shutdownOutput();
      } catch (IOException e) {
        close(CloseReason.CLIENT_RESET, false, true);
      }
      return;
    }
    if (n == 0) {
      return;
    }
    bytesDown += n;
    loop.counters.bytesDown.add(n);
    lastActive = loop.now;
    buf.flip();
    try {
      client.write(buf);
    } catch (IOException e) {
      LOG.debug("{}: client write failed: {}", connection, e.toString());
      close(CloseReason.CLIENT_RESET, false, true);
      return;
    }
    if (buf.hasRemaining()) {
      ByteBuffer b = loop.pool.acquire();
      b.put(buf).flip();
      toClient = b;
    }
  }

  private void flushToUpstream() {
    ByteBuffer b = toUpstream;
    SocketChannel up = upstream;
    if (b == null || up == null) {
      return;
    }
    try {
      up.write(b);
    } catch (IOException e) {
      close(CloseReason.UPSTREAM_RESET, true, false);
      return;
    }
    if (!b.hasRemaining()) {
      toUpstream = null;
      loop.pool.release(b);
    }
  }

  private void flushToClient() {
    ByteBuffer b = toClient;
    if (b == null) {
      return;
    }
    try {
      client.write(b);
    } catch (IOException e) {
      close(CloseReason.CLIENT_RESET, false, true);
      return;
    }
    if (!b.hasRemaining()) {
      toClient = null;
      loop.pool.release(b);
    }
  }

  /** Derives both keys' interest ops from the state; sets them only when they change. */
  private void updateInterest() {
    if (state != SPLICING) {
      return;
    }
    int c = 0;
    int u = 0;
    if (toUpstream == null && (flags & CLIENT_EOF) == 0) {
      c |= SelectionKey.OP_READ;
    }
    if (toClient != null) {
      c |= SelectionKey.OP_WRITE;
    }
    if (toClient == null && (flags & UPSTREAM_EOF) == 0) {
      u |= SelectionKey.OP_READ;
    }
    if (toUpstream != null) {
      u |= SelectionKey.OP_WRITE;
    }
    setInterest(clientKey, c);
    setInterest(upstreamKey, u);
  }

  private static void setInterest(@Nullable SelectionKey k, int ops) {
    if (k != null && k.isValid() && k.interestOps() != ops) {
      k.interestOps(ops);
    }
  }

  /** Makes the next close send a reset. */
  static void setLingerZero(SocketChannel ch) {
    try {
      ch.setOption(StandardSocketOptions.SO_LINGER, 0);
    } catch (IOException | RuntimeException e) {
      // already closed or reset: the close that follows is all that is left to do
    }
  }

  /** Closes both legs (with a reset where asked), releases buffers and reports; idempotent. */
  void close(CloseReason reason, boolean resetClient, boolean resetUpstream) {
    if (state == CLOSED) {
      return;
    }
    boolean wasConnected = state == SPLICING;
    state = CLOSED;
    if (!wasConnected) {
      upstreamAddress = null;
    }
    attempts = null;
    attempt = null;
    tunnel = null;
    failures = null;
    ByteBuffer b = toUpstream;
    if (b != null) {
      toUpstream = null;
      loop.pool.release(b);
    }
    b = toClient;
    if (b != null) {
      toClient = null;
      loop.pool.release(b);
    }
    loop.closing(this, reason);
    loop.close(client, clientKey, resetClient);
    SocketChannel up = upstream;
    if (up != null) {
      loop.close(up, upstreamKey, resetUpstream);
    }
    clientKey = null;
    upstreamKey = null;
    loop.closed(this, reason);
  }

  static void closeChannel(SocketChannel ch, boolean reset) {
    if (reset) {
      setLingerZero(ch);
    }
    try {
      ch.close();
    } catch (IOException e) {
      // closing is best effort; the descriptor is released either way
    }
  }
}
