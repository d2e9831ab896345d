// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.internal.loop.KeyHandler;
import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.ConnectFeedback;
import io.github.apnsproxy.tcp.EgressProxy;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.Preface;
import io.github.apnsproxy.tcp.PrefaceDecision;
import io.github.apnsproxy.tcp.PrefaceParser;
import io.github.apnsproxy.tcp.ProxyProtocol;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.ServerNameKind;
import io.github.apnsproxy.tcp.UpstreamFailure;
import io.github.apnsproxy.tcp.UpstreamReplies;
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
 * One client connection and its upstream leg: both channels, their keys, state and counters in one
 * small object. Touched by its loop thread only. An idle splice holds no buffer: {@link
 * #toUpstream} and {@link #toClient} are only set while a peer is blocked. It sits in its loop's
 * intrusive list (prev/next), which is also the timer structure: the loop scans deadlines coarsely
 * instead of scheduling a task per connection.
 */
final class Splice implements KeyHandler {
  private static final Logger LOG = LoggerFactory.getLogger(Splice.class);

  static final int ROUTING = 0;
  static final int CONNECTING = 1;
  static final int SPLICING = 2;
  static final int CLOSED = 3;

  /** Reading the preface (front door, PROXY protocol header). */
  static final int PREFACE = 4;

  /**
   * Sending a reply before closing (a refusal, an upstream failure), then discarding input until
   * EOF.
   */
  static final int REPLYING = 5;

  /**
   * Connected to an egress proxy, waiting for its CONNECT (or SOCKS5) answer; the connect deadline
   * still runs.
   */
  static final int TUNNELING = 6;

  /** Reads per readiness event while each fills the buffer (see {@link #readClient}). */
  static final int MAX_READS_PER_EVENT = 4;

  private static final int CLIENT_EOF = 1;
  private static final int UPSTREAM_EOF = 2;

  /** This connection counts in the per-client limit of {@code connection.client()}. */
  private static final int CLIENT_HELD = 4;

  /**
   * The listener's {@code accepted} is still to be called (PROXY protocol: once the header named
   * the client).
   */
  private static final int ACCEPT_PENDING = 8;

  final Loop loop;
  final SocketChannel client;

  /**
   * Replaced during the preface stage (PROXY protocol addresses, what the front door found); loop
   * thread only.
   */
  InboundConnection connection;

  /** The preface stage's state; null without one, and again once connected or closed. */
  private @Nullable PrefaceState preface;

  final long start;
  private @Nullable SocketChannel upstream;
  private @Nullable SelectionKey clientKey;
  private @Nullable SelectionKey upstreamKey;
  private @Nullable List<Connector.Attempt> attempts;
  private Connector.@Nullable Attempt attempt;
  private @Nullable Tunnel tunnel;
  private int selfLoops;
  private @Nullable ConnectFeedback feedback;
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

  /** The router's upstream host name, for the listener's summary; empty until routed. */
  String upstreamHost = "";

  /** Why this connection was refused, for the listener's summary; null when it was not. */
  @Nullable RejectReason rejection;

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

  /** Marks this connection as counted in its client's per-client limit (released on close). */
  void holdClient() {
    flags |= CLIENT_HELD;
  }

  boolean holdsClient() {
    return (flags & CLIENT_HELD) != 0;
  }

  /** Whether the listener's {@code accepted} has not been called yet; clears the mark. */
  boolean takeAcceptPending() {
    boolean pending = (flags & ACCEPT_PENDING) != 0;
    flags &= ~ACCEPT_PENDING;
    return pending;
  }

  /** When this splice's current timer fires ({@code Long.MAX_VALUE}: none). */
  long dueAt(long idleNanos) {
    if (state == ROUTING
        || state == CONNECTING
        || state == TUNNELING
        || state == PREFACE
        || state == REPLYING) {
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
    // one snapshot: the route and the egress that connects it come from the same configuration
    Engine.Live at = loop.engine.live();
    try {
      stage = at.router().route(connection);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      onRoute(at, null, e);
      return;
    }
    if (stage == null) {
      onRoute(at, null, new NullPointerException("router returned null"));
      return;
    }
    // The lambda lives only until the stage completes; nothing per connection is kept after that.
    stage.whenComplete((r, e) -> loop.routeCompleted(this, at, r, e));
  }

  void onRoute(Engine.Live at, @Nullable Route route, @Nullable Throwable failure) {
    if (state != ROUTING) {
      return; // timed out or closed meanwhile
    }
    if (failure != null || route == null) {
      rejected(RejectReason.ROUTER_ERROR);
      LOG.debug("{}: router failed", connection, failure);
      failOrClose(
          new UpstreamFailure(
              UpstreamFailure.Kind.ERROR, RejectReason.ROUTER_ERROR, String.valueOf(failure)),
          CloseReason.ROUTE_REJECTED);
      return;
    }
    RejectReason rejection = route.rejection();
    if (rejection != null) {
      rejected(rejection);
      LOG.debug("{}: rejected {} {}", connection, rejection, route.detail());
      failOrClose(
          new UpstreamFailure(failureKind(rejection), rejection, route.detail()),
          rejection == RejectReason.REFUSED_TARGET
              ? CloseReason.TARGET_REFUSED
              : CloseReason.ROUTE_REJECTED);
      return;
    }
    countRouted(at.router());
    upstreamHost = route.host();
    loop.listener.routed(connection, route);
    // ---- the connect stage (egress): direct addresses or tunnels through proxies, the same for
    // every front door
    StringBuilder why = new StringBuilder();
    attempts = loop.engine.connector.attempts(route, at.egress(), at.family(), loop.now, why);
    if (why.length() > 0) {
      failures = why;
    }
    feedback = route.feedback();
    nextCandidate = 0;
    connectNext();
  }

  /**
   * Counts a routed connection by front door and name kind; no preface costs one adder increment.
   */
  private void countRouted(Router router) {
    Preface found = connection.preface();
    String name = found.serverName();
    InetSocketAddress target = found.target();
    if (name == null && target != null) {
      name = target.getHostString();
    }
    if (name == null && Preface.ADDRESS.equals(found.frontDoor())) {
      loop.counters.routedByAddress();
      return;
    }
    ServerNameKind kind = ServerNameKind.NONE;
    if (name != null) {
      try {
        kind = router.nameKind(name);
      } catch (RuntimeException | Error e) {
        Errors.rethrowFatal(e);
        LOG.debug("{}: Router.nameKind failed", connection, e);
        kind = ServerNameKind.OTHER;
      }
      if (kind == null) {
        kind = ServerNameKind.OTHER;
      }
    }
    loop.counters.routed(found.frontDoor(), kind);
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
        // an IPv4 socket for an IPv4 target: the JDK's default dual-stack socket costs an
        // IPV6_V6ONLY call more
        ch =
            SocketChannel.open(
                a.getAddress() instanceof Inet4Address
                    ? StandardProtocolFamily.INET
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
        upstreamKey = ch.register(loop.selector(), SelectionKey.OP_CONNECT, this);
        state = CONNECTING;
        loop.schedule(deadline);
        return;
      } catch (IOException | RuntimeException e) {
        connectFailed(at, e.toString());
      }
    }
    if (list != null && selfLoops > 0 && selfLoops == list.size()) {
      loop.counters.rejected(RejectReason.SELF_LOOP);
      failOrClose(
          new UpstreamFailure(
              UpstreamFailure.Kind.NOT_ALLOWED, RejectReason.SELF_LOOP, String.valueOf(failures)),
          CloseReason.TARGET_REFUSED);
      return;
    }
    LOG.debug("{}: every upstream candidate failed: {}", connection, failures);
    PrefaceState p = preface;
    failOrClose(
        new UpstreamFailure(
            p == null ? UpstreamFailure.Kind.ERROR : p.lastFailure, null, String.valueOf(failures)),
        CloseReason.CONNECT_FAILED);
  }

  /**
   * A candidate that is this proxy itself (its plan, its listeners): never connected to, counted
   * and logged.
   */
  private void selfLoop(Connector.Attempt at) {
    selfLoops++;
    loop.counters.selfLoops.increment();
    String msg =
        at.connectTo()
            + " is this proxy's own address (a plan or listen address): refusing to connect to "
            + "itself; check upstream.hosts and what upstream.dns answers for "
            + at.host();
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
    ConnectFeedback f = feedback;
    if (f != null && at.proxy() == null) {
      try {
        f.failed(at.connectTo(), why);
      } catch (RuntimeException | Error e) {
        Errors.rethrowFatal(e);
        LOG.warn("{}: ConnectFeedback.failed threw", connection, e);
      }
    }
    PrefaceState p = preface;
    if (p != null) {
      p.lastFailure = PrefaceState.classify(why);
    }
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
    Tunnel t =
        new Tunnel(proxy, at.host(), at.port(), Math.min(4096, loop.settings.bufferSize() / 2));
    tunnel = t;
    try {
      if (upstreamKey == null) {
        upstreamKey = up.register(loop.selector(), SelectionKey.OP_WRITE, this);
      }
    } catch (IOException e) {
      connectFailed(at, e.toString());
      connectNext();
      return;
    }
    tunnelIo(SelectionKey.OP_WRITE);
  }

  /**
   * One step of the proxy handshake: write what is due, read the answer; never blocks. Loop thread.
   */
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
   * Starts splicing once the upstream leg is ready (directly connected, or the tunnel open). The
   * one place where bytes held before the splice are handed to it: {@code firstToClient} are
   * upstream bytes that came with the proxy's answer; bytes the client sent meanwhile are still in
   * its socket (the client is read only from here on).
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
    ConnectFeedback f = feedback;
    feedback = null;
    if (f != null) {
      try {
        f.connected(a);
      } catch (RuntimeException | Error e) {
        Errors.rethrowFatal(e);
        LOG.warn("{}: ConnectFeedback.connected threw", connection, e);
      }
    }
    deadline = Long.MAX_VALUE;
    lastActive = loop.now;
    try {
      // The client is registered, and so read, only now that the upstream is connected.
      clientKey = client.register(loop.selector(), SelectionKey.OP_READ, this);
      if (upstreamKey == null) {
        upstreamKey = up.register(loop.selector(), SelectionKey.OP_READ, this);
      } else {
        upstreamKey.interestOps(SelectionKey.OP_READ);
      }
    } catch (IOException e) {
      // the client channel was closed under us: nothing to splice
      close(CloseReason.CLIENT_GONE, false, false);
      return;
    }
    loop.listener.connected(connection, a);
    LOG.debug("{}: connected to {}", connection, at);
    if (loop.settings.idleTimeoutNanos() > 0) {
      loop.schedule(lastActive + loop.settings.idleTimeoutNanos());
    }
    if (preface != null) {
      // the front door's reply goes to the client first, its buffered bytes to the upstream first
      handOverPreface(up, a);
    }
    if (firstToClient != null && firstToClient.hasRemaining() && state == SPLICING) {
      queueToClient(firstToClient);
    }
    updateInterest();
  }

  /**
   * Queues upstream bytes that arrived with the proxy's answer for the client, after anything
   * already queued (a front door's reply). Both are small (the answer buffer is at most half a
   * pooled buffer); should they not fit together, the connection is closed rather than a byte lost.
   */
  private void queueToClient(ByteBuffer bytes) {
    int n = bytes.remaining();
    ByteBuffer b = toClient;
    if (b == null) {
      b = loop.pool.acquire();
      b.put(bytes).flip();
      toClient = b;
    } else {
      b.compact();
      if (b.remaining() < n) {
        b.flip();
        LOG.warn(
            "{}: {} bytes from the egress proxy do not fit after the front door's reply",
            connection,
            n);
        close(CloseReason.ERROR, false, false);
        return;
      }
      b.put(bytes).flip();
    }
    bytesDown += n;
    loop.counters.bytesDown.add(n);
    flushToClient();
  }

  void onTimeout() {
    if (state == PREFACE) {
      rejected(RejectReason.PREFACE_TIMEOUT);
      LOG.debug("{}: preface timed out", connection);
      close(CloseReason.PREFACE_TIMEOUT, false, false);
    } else if (state == REPLYING) {
      PrefaceState p = preface;
      close(p == null ? CloseReason.ERROR : p.closeReason, false, false);
    } else if (state == ROUTING) {
      rejected(RejectReason.ROUTE_TIMEOUT);
      LOG.debug("{}: route timed out", connection);
      failOrClose(
          new UpstreamFailure(
              UpstreamFailure.Kind.TIMED_OUT, RejectReason.ROUTE_TIMEOUT, "route timed out"),
          CloseReason.ROUTE_TIMEOUT);
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
  @Override
  public void onReady(SelectionKey key) {
    int ops = key.readyOps();
    if (state == PREFACE || state == REPLYING) {
      onPrefaceReady(ops);
      return;
    }
    if (key == clientKey && (state == ROUTING || state == CONNECTING || state == TUNNELING)) {
      // a client after its preface spoke (or closed) before its upstream is up: it waits in its
      // socket buffer until then (see proceed)
      setInterest(clientKey, 0);
      return;
    }
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

  /** {@link #onReady} threw: this splice is closed, with resets both ways; the loop goes on. */
  @Override
  public void onFailure(SelectionKey key, Throwable failure) {
    LOG.warn("{}: unexpected error; closing this connection", connection, failure);
    close(CloseReason.ERROR, true, true);
  }

  /** The loop rebuilt its selector: the key of the same channel on the new selector. */
  @Override
  public void keyReplaced(SelectionKey old, SelectionKey replacement) {
    if (old == clientKey) {
      clientKey = replacement;
    } else if (old == upstreamKey) {
      upstreamKey = replacement;
    }
  }

  /**
   * Moves client bytes upstream: one read per readiness event, and another only while the previous
   * one filled the buffer (more is then most likely waiting, and reading it now saves a select), at
   * most {@value #MAX_READS_PER_EVENT} reads so that one busy stream cannot hold up the loop's
   * other connections. A read that returned less than the buffer is not followed by one that would
   * find nothing.
   */
  private void readClient() {
    SocketChannel up = upstream;
    if (up == null || toUpstream != null) {
      return;
    }
    ByteBuffer buf = loop.scratch;
    for (int reads = 1; ; reads++) {
      buf.clear();
      int n;
      try {
        n = client.read(buf);
      } catch (IOException e) {
        LOG.debug("{}: client read failed: {}", connection, e.toString());
        close(
            bytesUp == 0 && bytesDown == 0 ? CloseReason.CLIENT_GONE : CloseReason.CLIENT_RESET,
            false,
            true);
        return;
      }
      if (n < 0) {
        if (bytesUp == 0 && bytesDown == 0) {
          // A device always speaks first (TLS ClientHello): EOF before any byte means it gave up
          // waiting.
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
        toUpstream = loop.takeScratch(); // the rest waits where it is: no copy
        return;
      }
      if (n < buf.capacity() || reads == MAX_READS_PER_EVENT) {
        return;
      }
    }
  }

  /** Moves upstream bytes to the client; reads as {@link #readClient} does. */
  private void readUpstream() {
    if (toClient != null) {
      return;
    }
    SocketChannel up = upstream;
    if (up == null) {
      return;
    }
    ByteBuffer buf = loop.scratch;
    for (int reads = 1; ; reads++) {
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
        toClient = loop.takeScratch(); // the rest waits where it is: no copy
        return;
      }
      if (n < buf.capacity() || reads == MAX_READS_PER_EVENT) {
        return;
      }
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

  // ---- The preface stage: accept -> [PROXY header] -> [front door] -> route. Only for listeners
  // that read one. ----

  /**
   * Starts the preface stage: reads the PROXY protocol header first when {@code proxy}, then {@code
   * door}'s preface, within the preface timeout. The client is registered for reading now (without
   * a preface it is registered only once the upstream is connected).
   */
  void startPreface(@Nullable FrontDoor door, ProxyProtocol proxyMode) {
    boolean proxy = proxyMode != ProxyProtocol.OFF;
    PrefaceState p =
        new PrefaceState(
            door,
            proxy ? ProxyHeader.maxLength(proxyMode) : door == null ? 0 : door.maxPrefaceBytes());
    p.proxyMode = proxyMode;
    preface = p;
    p.proxyPending = proxy;
    if (proxy) {
      flags |= ACCEPT_PENDING;
    }
    state = PREFACE;
    deadline = loop.now + loop.settings.prefaceTimeoutNanos();
    loop.schedule(deadline);
    if (!proxy && door != null && !openParser(p, door)) {
      return;
    }
    try {
      clientKey = client.register(loop.selector(), SelectionKey.OP_READ, this);
    } catch (IOException e) {
      close(CloseReason.CLIENT_GONE, false, false);
    }
  }

  private boolean openParser(PrefaceState p, FrontDoor door) {
    PrefaceParser parser;
    try {
      parser = door.open(connection);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      LOG.warn("{}: front door {} failed to open a parser", connection, door.name(), e);
      close(CloseReason.ERROR, false, false);
      return false;
    }
    if (parser == null) {
      LOG.warn("{}: front door {} returned no parser", connection, door.name());
      close(CloseReason.ERROR, false, false);
      return false;
    }
    p.parser = parser;
    return true;
  }

  private void onPrefaceReady(int ops) {
    PrefaceState p = preface;
    if (p == null) {
      return;
    }
    if ((ops & SelectionKey.OP_WRITE) != 0 && p.reply != null) {
      flushReply(p);
    }
    if ((ops & SelectionKey.OP_READ) != 0 && preface == p && p.reply == null) {
      if (state == PREFACE && p.pending == null) {
        readPreface(p);
      } else if (state == REPLYING && p.lingering) {
        discardInput(p);
      }
    }
    if (preface == p && (state == PREFACE || state == REPLYING)) {
      setInterest(
          clientKey,
          p.reply != null ? SelectionKey.OP_WRITE : p.pending != null ? 0 : SelectionKey.OP_READ);
    }
  }

  private void readPreface(PrefaceState p) {
    int room = p.room();
    if (room <= 0) {
      refusePreface(RejectReason.PREFACE_REFUSED, "preface over " + p.cap + " bytes", null);
      return;
    }
    ByteBuffer buf = loop.scratch;
    buf.clear();
    if (room < buf.capacity()) {
      buf.limit(room); // never read more than the cap: the rest stays in the socket
    }
    int n;
    try {
      n = client.read(buf);
    } catch (IOException e) {
      LOG.debug("{}: client read failed during the preface: {}", connection, e.toString());
      close(CloseReason.CLIENT_GONE, false, false);
      return;
    }
    if (n < 0) {
      LOG.debug("{}: client closed during the preface ({} bytes buffered)", connection, p.size());
      close(CloseReason.CLIENT_GONE, false, false);
      return;
    }
    if (n == 0) {
      return;
    }
    buf.flip();
    if (!p.append(loop, buf)) {
      refusePreface(RejectReason.PREFACE_BUDGET, "preface budget exhausted", null);
      return;
    }
    lastActive = loop.now;
    advancePreface(p);
  }

  /**
   * Runs the PROXY header and the door's parser over the buffered bytes until they need more or
   * decide.
   */
  private void advancePreface(PrefaceState p) {
    while (state == PREFACE && preface == p && p.reply == null && p.pending == null) {
      if (p.proxyPending) {
        if (!proxyHeader(p)) {
          return;
        }
        continue;
      }
      PrefaceParser parser = p.parser;
      if (parser == null) {
        proceed(p, Preface.NONE, 0, null); // PROXY protocol only: route by the header's destination
        return;
      }
      if (p.size() == 0) {
        return;
      }
      PrefaceDecision d;
      try {
        d = parser.parse(p.view());
      } catch (RuntimeException | Error e) {
        Errors.rethrowFatal(e);
        LOG.debug("{}: preface parser failed", connection, e);
        refusePreface(RejectReason.PREFACE_REFUSED, "parser failed: " + e, null);
        return;
      }
      if (!apply(p, d)) {
        return;
      }
    }
  }

  /**
   * Applies a parser's decision; true when the parser is to be called again with the remaining
   * bytes.
   */
  private boolean apply(PrefaceState p, @Nullable PrefaceDecision d) {
    if (d == null) {
      refusePreface(RejectReason.PREFACE_REFUSED, "parser returned null", null);
      return false;
    }
    if (d instanceof PrefaceDecision.NeedMore) {
      if (p.room() <= 0) {
        refusePreface(RejectReason.PREFACE_REFUSED, "preface over " + p.cap + " bytes", null);
      }
      return false;
    } else if (d instanceof PrefaceDecision.Reply r) {
      p.consume(r.consumed());
      if (r.bytes().hasRemaining()) {
        p.reply = r.bytes().duplicate();
        flushReply(p);
      }
      return true;
    } else if (d instanceof PrefaceDecision.Proceed r) {
      proceed(p, r.found(), r.skip(), r.replies());
    } else if (d instanceof PrefaceDecision.Close c) {
      if (c.refused()) {
        refusePreface(RejectReason.PREFACE_REFUSED, c.detail(), c.reply());
      } else {
        LOG.debug("{}: answered by the front door: {}", connection, c.detail());
        replyThenClose(p, c.reply().duplicate(), CloseReason.ANSWERED);
      }
    } else if (d instanceof PrefaceDecision.Later l) {
      p.pending = l;
      setInterest(
          clientKey, 0); // the client waits in its socket buffer until the decision is there
      try {
        // always through the task queue, also when already complete: the parser is never re-entered
        l.decision().whenComplete((r, e) -> loop.execute(() -> decided(p, l, r, e)));
      } catch (RuntimeException e) {
        p.pending = null;
        refusePreface(RejectReason.PREFACE_REFUSED, "deferred decision failed: " + e, null);
      }
    }
    return false;
  }

  /**
   * A {@link PrefaceDecision.Later} completed; runs on the loop thread. Ignored when the connection
   * moved on.
   */
  @SuppressWarnings(
      "ReferenceEquality") // this very decision must still be the pending one, not an equal one
  private void decided(
      PrefaceState p, PrefaceDecision.Later l, @Nullable PrefaceDecision d, @Nullable Throwable e) {
    if (state != PREFACE || preface != p || p.pending != l) {
      return; // timed out or closed meanwhile
    }
    p.pending = null;
    if (e != null) {
      LOG.debug("{}: deferred preface decision failed", connection, e);
      refusePreface(RejectReason.PREFACE_REFUSED, "deferred decision failed: " + e, null);
      return;
    }
    if (apply(p, d)) {
      advancePreface(p);
    }
    if (state == PREFACE && preface == p) {
      setInterest(
          clientKey,
          p.reply != null ? SelectionKey.OP_WRITE : p.pending != null ? 0 : SelectionKey.OP_READ);
    }
  }

  /**
   * Parses the PROXY header; true when it is done and the door's stage follows, false to wait or
   * when closed.
   */
  private boolean proxyHeader(PrefaceState p) {
    ProxyHeader.Result r = ProxyHeader.parse(p.view(), p.proxyMode);
    switch (r.status()) {
      case NEED_MORE:
        if (p.room() <= 0) {
          refusePreface(RejectReason.PROXY_HEADER, "PROXY header over " + p.cap + " bytes", null);
        }
        return false;
      case INVALID:
        refusePreface(RejectReason.PROXY_HEADER, r.detail(), null);
        return false;
      case LOCAL:
        LOG.debug("{}: PROXY protocol LOCAL (health check)", connection);
        close(CloseReason.ANSWERED, false, false);
        return false;
      default:
        break;
    }
    p.consume(r.length());
    InetSocketAddress balancer = connection.client();
    InetSocketAddress src = r.source();
    InetSocketAddress dst = r.destination();
    connection =
        src == null || dst == null
            ? new InboundConnection(connection.client(), connection.local(), Preface.NONE, balancer)
            : new InboundConnection(src, dst, Preface.NONE, balancer);
    p.proxyPending = false;
    flags &= ~ACCEPT_PENDING;
    loop.listener.accepted(connection);
    if (!loop.engine.live().policy().allowsClient(connection.client().getAddress())) {
      refusePreface(
          RejectReason.CLIENT_DENIED,
          "client outside the allow-list",
          null,
          CloseReason.CLIENT_DENIED);
      return false;
    }
    int held = loop.engine.acquireClient(connection.client().getAddress());
    if (held == Engine.REFUSED) {
      refusePreface(RejectReason.MAX_PER_CLIENT, "per-client limit", null, CloseReason.LIMIT);
      return false;
    }
    if (held == Engine.COUNTED) {
      flags |= CLIENT_HELD;
    }
    FrontDoor door = p.door;
    if (door != null) {
      p.cap = door.maxPrefaceBytes();
      return openParser(p, door);
    }
    return true;
  }

  /** The preface is complete: stop reading the client, keep the bytes to forward, and route. */
  private void proceed(PrefaceState p, Preface found, int skip, @Nullable UpstreamReplies replies) {
    connection = connection.withPreface(found);
    p.consume(skip);
    p.parser = null;
    p.replies = replies;
    if (p.size() == 0) {
      p.release(loop); // nothing to forward: hold no buffer while routing and connecting
    }
    // The client is read again only once the upstream is connected. Its read interest is dropped
    // lazily, by the first readiness event before then (onReady): a TLS client waits for the
    // server's answer after its hello, so most connections never change their interest twice.
    route();
  }

  /**
   * Connected: the bytes the preface read go to the upstream first, an explicit-proxy door's reply
   * to the client first; both through the splice's ordinary pending buffers, so reading waits until
   * they drained. The preface state is dropped.
   */
  private void handOverPreface(SocketChannel up, InetSocketAddress a) {
    PrefaceState p = preface;
    if (p == null) {
      return;
    }
    preface = null;
    int n = p.size();
    if (n > 0) {
      ByteBuffer b = loop.pool.acquire();
      p.copyTo(b);
      b.flip();
      toUpstream = b;
      bytesUp += n;
      loop.counters.bytesUp.add(n);
    }
    p.release(loop);
    UpstreamReplies replies = p.replies;
    if (replies != null) {
      ByteBuffer r;
      try {
        r = replies.connected(a, (InetSocketAddress) up.getLocalAddress());
      } catch (IOException | RuntimeException | Error e) {
        Errors.rethrowFatal(e);
        LOG.warn("{}: front door reply for connected failed", connection, e);
        close(CloseReason.ERROR, false, false);
        return;
      }
      if (r != null && r.hasRemaining()) {
        if (r.remaining() > loop.settings.bufferSize()) {
          LOG.warn(
              "{}: front door reply of {} bytes over the buffer size", connection, r.remaining());
          close(CloseReason.ERROR, false, false);
          return;
        }
        ByteBuffer b = loop.pool.acquire();
        b.put(r.duplicate()).flip();
        toClient = b;
      }
    }
    flushToClient();
    if (state == SPLICING) {
      flushToUpstream();
    }
    updateInterest();
  }

  /**
   * A routed connection failed: with an explicit-proxy door, its failure reply goes to the client
   * before the close; otherwise the connection closes at once.
   */
  private void failOrClose(UpstreamFailure failure, CloseReason reason) {
    PrefaceState p = preface;
    UpstreamReplies replies = p == null ? null : p.replies;
    if (p == null || replies == null) {
      close(reason, false, false);
      return;
    }
    ByteBuffer r;
    try {
      r = replies.failed(failure);
    } catch (RuntimeException | Error e) {
      Errors.rethrowFatal(e);
      LOG.warn("{}: front door reply for a failure failed", connection, e);
      close(reason, false, false);
      return;
    }
    replyThenClose(p, r == null ? ByteBuffer.allocate(0) : r.duplicate(), reason);
  }

  /** Counts a refusal and remembers its reason for the summary. */
  private void rejected(RejectReason why) {
    rejection = why;
    loop.counters.rejected(why);
  }

  private static UpstreamFailure.Kind failureKind(RejectReason r) {
    switch (r) {
      case RESOLVE_FAILED:
        return UpstreamFailure.Kind.UNRESOLVABLE;
      case ROUTE_TIMEOUT:
        return UpstreamFailure.Kind.TIMED_OUT;
      case ROUTER_ERROR:
        return UpstreamFailure.Kind.ERROR;
      default:
        return UpstreamFailure.Kind.NOT_ALLOWED;
    }
  }

  private void refusePreface(RejectReason why, String detail, @Nullable ByteBuffer reply) {
    refusePreface(why, detail, reply, CloseReason.PREFACE_REFUSED);
  }

  private void refusePreface(
      RejectReason why, String detail, @Nullable ByteBuffer reply, CloseReason reason) {
    rejected(why);
    LOG.debug("{}: preface refused ({}): {}", connection, why, detail);
    PrefaceState p = preface;
    if (p == null || reply == null || !reply.hasRemaining()) {
      close(reason, false, false);
      return;
    }
    replyThenClose(p, reply.duplicate(), reason);
  }

  /**
   * Sends {@code reply} to the client, then shuts output down and closes on EOF or at the deadline.
   */
  private void replyThenClose(PrefaceState p, ByteBuffer reply, CloseReason reason) {
    if (!reply.hasRemaining() || clientKey == null) {
      close(reason, false, false);
      return;
    }
    SocketChannel up = upstream;
    if (up != null) {
      // a failed connect attempt's channel is closed already; anything else goes now, the client is
      // answered alone
      upstream = null;
      loop.close(up, upstreamKey, false);
      upstreamKey = null;
    }
    state = REPLYING;
    p.closeReason = reason;
    p.reply = reply;
    p.release(loop);
    deadline = loop.now + loop.settings.prefaceTimeoutNanos();
    loop.schedule(deadline);
    flushReply(p);
    if (state == REPLYING) {
      setInterest(clientKey, p.reply != null ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
    }
  }

  /**
   * Writes the pending reply; once it is out, reads on (PREFACE) or shuts output down and lingers
   * (REPLYING).
   */
  private void flushReply(PrefaceState p) {
    ByteBuffer r = p.reply;
    if (r == null) {
      return;
    }
    try {
      client.write(r);
    } catch (IOException e) {
      LOG.debug("{}: reply write failed: {}", connection, e.toString());
      close(state == REPLYING ? p.closeReason : CloseReason.CLIENT_GONE, false, false);
      return;
    }
    if (r.hasRemaining()) {
      return;
    }
    p.reply = null;
    if (state == REPLYING) {
      try {
        client
            .shutdownOutput(); // the FIN follows the reply; input is drained so the close sends no
        // reset
      } catch (IOException e) {
        close(p.closeReason, false, false);
        return;
      }
      p.lingering = true;
    } else if (state == PREFACE) {
      advancePreface(p); // bytes sent with the request may be buffered already
    }
  }

  /** Reads and drops what a refused client still sends, until its EOF; bounded by the deadline. */
  private void discardInput(PrefaceState p) {
    ByteBuffer buf = loop.scratch;
    for (int i = 0; i < 4; i++) {
      buf.clear();
      int n;
      try {
        n = client.read(buf);
      } catch (IOException e) {
        close(p.closeReason, false, false);
        return;
      }
      if (n < 0) {
        close(p.closeReason, false, false);
        return;
      }
      if (n == 0) {
        return;
      }
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
    feedback = null;
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
    PrefaceState p = preface;
    if (p != null) {
      preface = null;
      p.release(loop);
    }
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
