// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.internal.loop.Droppable;
import io.github.apnsproxy.core.internal.loop.LoopHandler;
import io.github.apnsproxy.core.internal.loop.SelectorLoop;
import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.ProxyProtocol;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.SpliceListener;
import io.github.apnsproxy.tcp.SpliceSummary;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketOption;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Set;
import jdk.net.ExtendedSocketOptions;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The splicer's side of one selector loop: a {@link SelectorLoop} kernel (thread {@code
 * apns-proxy-tcp-loop-N}, selector, task queue, accepting, selector rebuilds) plus the splices
 * registered on it, a shared scratch read buffer, a buffer pool and a coarse timer: the intrusive
 * splice list, scanned when the earliest known deadline passes (no per-connection scheduled task).
 * Other threads hand work in with {@link #execute}.
 */
final class Loop implements LoopHandler {
  private static final Logger LOG = LoggerFactory.getLogger(Loop.class);

  final Engine engine;
  final Settings settings;
  final Counters counters;
  final SpliceListener listener;
  final SelectorLoop kernel;
  final Thread thread;

  /**
   * Where splices read into; replaced by a pool buffer when a splice takes it over ({@link
   * #takeScratch}).
   */
  ByteBuffer scratch;

  final BufferPool pool;
  private final boolean keepIdleSupported;
  private final boolean keepIntervalSupported;

  /**
   * Whether accepted sockets inherit the listener's keepalive times: 0 not known yet, 1 yes, -1 no.
   * Loop only.
   */
  private int keepAliveInherited;

  private volatile int spliceCount;

  /** This loop's share of the splicer's preface budget, in bytes. */
  private final long prefaceBudget;

  /**
   * Bytes held by this loop's connections waiting for their preface; written by the loop thread
   * only.
   */
  private volatile long prefaceBytes;

  /** The time of the last wakeup; what the splices use as "now". Loop thread only. */
  long now = System.nanoTime();

  private @Nullable Splice head;

  Loop(Engine engine, int index) throws IOException {
    this.engine = engine;
    this.settings = engine.settings;
    this.counters = engine.counters;
    this.listener = engine.listener;
    this.kernel = new SelectorLoop("apns-proxy-tcp-loop-" + index, this);
    this.thread = kernel.thread();
    this.scratch = ByteBuffer.allocateDirect(settings.bufferSize());
    this.pool = new BufferPool(settings.bufferSize());
    this.prefaceBudget = (settings.prefaceBudgetBytes() + settings.loops() - 1) / settings.loops();
    boolean idle = false;
    boolean interval = false;
    try (SocketChannel probe = SocketChannel.open()) {
      Set<SocketOption<?>> supported = probe.supportedOptions();
      idle = supported.contains(ExtendedSocketOptions.TCP_KEEPIDLE);
      interval = supported.contains(ExtendedSocketOptions.TCP_KEEPINTERVAL);
    } catch (IOException | RuntimeException e) {
      try {
        kernel.discard();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    this.keepIdleSupported = idle;
    this.keepIntervalSupported = interval;
  }

  /** The loop's current selector (a new one after a rebuild); loop thread. */
  Selector selector() {
    return kernel.selector();
  }

  /** Registers a listening channel for accepting; before the thread starts only. */
  void addServer(ServerSocketChannel server) throws IOException {
    kernel.addServer(server, ch -> engine.dispatch(ch, this));
  }

  /**
   * Registers a listening channel added while running (accepting at once unless paused); this
   * loop's thread.
   */
  void addServerRunning(ServerSocketChannel server) throws IOException {
    addServer(server);
  }

  /**
   * Stops accepting on one listening channel and closes it; accepted connections stay. This loop's
   * thread.
   */
  void closeServer(ServerSocketChannel server) {
    kernel.closeServer(server);
  }

  /** Runs {@code task} on this loop's thread; callable from any thread. */
  void execute(Runnable task) {
    kernel.execute(task);
  }

  boolean isRunning() {
    return kernel.isRunning();
  }

  /**
   * Hands an accepted channel to this loop from the acceptor's thread; closed if the loop stops
   * first.
   */
  void adoptLater(SocketChannel ch) {
    kernel.execute(new Adopt(ch));
  }

  /** An accepted channel on its way to this loop; closed if the loop stops first. */
  private final class Adopt implements Droppable {
    final SocketChannel ch;

    Adopt(SocketChannel ch) {
      this.ch = ch;
    }

    @Override
    public void run() {
      adopt(ch);
    }

    @Override
    public void dropped() {
      counters.closed(CloseReason.SHUTDOWN);
      Splice.closeChannel(ch, false);
    }
  }

  void stop() {
    kernel.stop();
  }

  int spliceCount() {
    return spliceCount;
  }

  int outstandingBuffers() {
    return pool.outstanding();
  }

  long prefaceBytes() {
    return prefaceBytes;
  }

  /**
   * Takes {@code n} bytes of this loop's preface budget; false (nothing taken) when they do not
   * fit. Loop thread.
   */
  boolean reservePreface(long n) {
    long now = prefaceBytes;
    if (now + n > prefaceBudget) {
      return false;
    }
    prefaceBytes = now + n; // single writer: the loop thread
    return true;
  }

  /** Gives {@code n} bytes back to this loop's preface budget. Loop thread. */
  @SuppressWarnings(
      "NonAtomicVolatileUpdate") // single writer (the loop thread); volatile only for stats readers
  void releasePreface(long n) {
    prefaceBytes = prefaceBytes - n;
  }

  /** Valid registered keys; loop thread only. */
  int validKeys() {
    return kernel.validKeys();
  }

  void schedule(long deadline) {
    kernel.schedule(deadline);
  }

  @Override
  public void awoke(long time) {
    now = time;
  }

  /**
   * Fires due timers and finds the next deadline. Runs when the earliest known deadline has passed.
   */
  @Override
  public long timersDue(long time) {
    long idle = settings.idleTimeoutNanos();
    long min = Long.MAX_VALUE;
    Splice s = head;
    while (s != null) {
      Splice next = s.next;
      long due = s.dueAt(idle);
      if (due != Long.MAX_VALUE && now - due >= 0) {
        try {
          s.onTimeout();
        } catch (RuntimeException | Error e) {
          Errors.rethrowFatal(e);
          LOG.warn("{}: unexpected error on timeout; closing this connection", s.connection, e);
          s.close(CloseReason.ERROR, true, true);
        }
        due = s.state == Splice.CLOSED ? Long.MAX_VALUE : s.dueAt(idle);
      }
      if (due < min) {
        min = due;
      }
      s = next;
    }
    return min;
  }

  /**
   * At the connection limit: accepting stops for {@code nanos} (unless already paused); this loop's
   * thread.
   */
  void pauseAccepting(long nanos) {
    kernel.pauseAccepting(nanos);
  }

  void closeServers() {
    kernel.closeServers();
  }

  /**
   * Takes over an accepted channel: checks the policy and limits, then starts routing. Loop thread.
   */
  void adopt(SocketChannel ch) {
    InetSocketAddress remote;
    InetSocketAddress local;
    try {
      remote = (InetSocketAddress) ch.getRemoteAddress();
      local = (InetSocketAddress) ch.getLocalAddress();
    } catch (IOException e) {
      Splice.closeChannel(ch, false);
      return;
    }
    if (remote == null || local == null) {
      Splice.closeChannel(ch, false); // already gone
      return;
    }
    now = System.nanoTime();
    InboundConnection conn = new InboundConnection(remote, local);
    Engine.Live l = engine.live(); // one snapshot per accepted connection
    if (l.proxyProtocol() != ProxyProtocol.OFF) {
      adoptProxied(ch, conn, l);
      return;
    }
    listener.accepted(conn);
    if (!l.policy().allowsClient(remote.getAddress())) {
      refuse(ch, conn, RejectReason.CLIENT_DENIED, CloseReason.CLIENT_DENIED);
      return;
    }
    if (counters.active.incrementAndGet() > l.maxConnections()) {
      engine.decrementActive();
      refuse(ch, conn, RejectReason.MAX_CONNECTIONS, CloseReason.LIMIT);
      engine
          .pauseAccepting(); // newcomers wait in the backlog for a moment instead of being accepted
      // and closed
      return;
    }
    int held = engine.acquireClient(remote.getAddress());
    if (held == Engine.REFUSED) {
      engine.decrementActive();
      refuse(ch, conn, RejectReason.MAX_PER_CLIENT, CloseReason.LIMIT);
      return;
    }
    try {
      ch.configureBlocking(false);
      configureAccepted(ch);
    } catch (IOException e) {
      if (held == Engine.COUNTED) {
        engine.releaseClient(remote.getAddress());
      }
      engine.decrementActive();
      Splice.closeChannel(ch, false);
      counters.closed(CloseReason.CLIENT_GONE);
      listener.closed(conn, new SpliceSummary(0, 0, Duration.ZERO, CloseReason.CLIENT_GONE, null));
      return;
    }
    Splice s = new Splice(this, ch, conn, now);
    if (held == Engine.COUNTED) {
      s.holdClient();
    }
    link(s);
    FrontDoor door = engine.usesPreface ? engine.doorFor(local) : null;
    if (door != null) {
      s.startPreface(door, ProxyProtocol.OFF);
    } else {
      s.route();
    }
  }

  /**
   * Takes over a connection from a balancer that must send a PROXY protocol header: only the
   * connection limit and the trusted-balancer list are checked now; the client allow-list, the
   * per-client limit and the listener's {@code accepted} apply to the header's source, once it is
   * read.
   */
  private void adoptProxied(SocketChannel ch, InboundConnection conn, Engine.Live l) {
    if (!l.proxyProtocolFrom().contains(conn.client().getAddress())) {
      listener.accepted(conn);
      refuse(ch, conn, RejectReason.PROXY_HEADER, CloseReason.PREFACE_REFUSED);
      return;
    }
    if (counters.active.incrementAndGet() > l.maxConnections()) {
      engine.decrementActive();
      listener.accepted(conn);
      refuse(ch, conn, RejectReason.MAX_CONNECTIONS, CloseReason.LIMIT);
      engine.pauseAccepting();
      return;
    }
    try {
      ch.configureBlocking(false);
      configureAccepted(ch);
    } catch (IOException e) {
      engine.decrementActive();
      Splice.closeChannel(ch, false);
      counters.closed(CloseReason.CLIENT_GONE);
      listener.accepted(conn);
      listener.closed(conn, new SpliceSummary(0, 0, Duration.ZERO, CloseReason.CLIENT_GONE, null));
      return;
    }
    Splice s = new Splice(this, ch, conn, now);
    link(s);
    s.startPreface(engine.doorFor(conn.local()), l.proxyProtocol());
  }

  private void refuse(
      SocketChannel ch, InboundConnection conn, RejectReason why, CloseReason reason) {
    // count first: whoever sees the close may look at the stats at once
    counters.rejected(why);
    counters.closed(reason);
    Splice.closeChannel(ch, false);
    LOG.debug("{}: refused at accept: {}", conn, why);
    listener.closed(conn, new SpliceSummary(0, 0, Duration.ZERO, reason, null, "", why));
  }

  /** TCP_NODELAY and keepalive on an upstream socket. */
  void configure(SocketChannel ch) throws IOException {
    setNoDelayAndKeepAlive(ch);
    setKeepAliveTimes(ch);
  }

  /**
   * The same on an accepted socket, whose keepalive times may come from the listener already: the
   * first accepted socket of this loop is asked, and the answer holds for the rest (the engine sets
   * the times on every listener).
   */
  private void configureAccepted(SocketChannel ch) throws IOException {
    setNoDelayAndKeepAlive(ch);
    if (keepAliveInherited == 0) {
      keepAliveInherited = engine.listenersKeepAlive && hasKeepAliveTimes(ch) ? 1 : -1;
      LOG.debug(
          "{}: accepted sockets {} the listener's keepalive times",
          thread.getName(),
          keepAliveInherited > 0 ? "inherit" : "do not inherit");
    }
    if (keepAliveInherited < 0) {
      setKeepAliveTimes(ch);
    }
  }

  private static void setNoDelayAndKeepAlive(SocketChannel ch) throws IOException {
    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
    ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
  }

  private boolean hasKeepAliveTimes(SocketChannel ch) throws IOException {
    int idle = settings.keepAliveIdleSeconds();
    int interval = settings.keepAliveIntervalSeconds();
    return (idle <= 0
            || !keepIdleSupported
            || ch.getOption(ExtendedSocketOptions.TCP_KEEPIDLE) == idle)
        && (interval <= 0
            || !keepIntervalSupported
            || ch.getOption(ExtendedSocketOptions.TCP_KEEPINTERVAL) == interval);
  }

  private void setKeepAliveTimes(SocketChannel ch) throws IOException {
    if (settings.keepAliveIdleSeconds() > 0 && keepIdleSupported) {
      ch.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, settings.keepAliveIdleSeconds());
    }
    if (settings.keepAliveIntervalSeconds() > 0 && keepIntervalSupported) {
      ch.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, settings.keepAliveIntervalSeconds());
    }
  }

  /**
   * Closes a splice's channel (with a reset if asked). A registered one has its key cancelled now
   * and is closed after the next select, which deregisters it; the peer sees the FIN or RST one
   * loop turn later.
   */
  void close(SocketChannel ch, @Nullable SelectionKey key, boolean reset) {
    if (reset) {
      Splice.setLingerZero(ch);
    }
    kernel.close(ch, key);
  }

  void routeCompleted(
      Splice s, Engine.Live at, @Nullable Route route, @Nullable Throwable failure) {
    if (Thread.currentThread() == thread) {
      s.onRoute(at, route, failure);
    } else {
      execute(() -> s.onRoute(at, route, failure));
    }
  }

  @SuppressWarnings(
      "NonAtomicVolatileUpdate") // spliceCount: the loop thread writes, others only read
  private void link(Splice s) {
    Splice h = head;
    s.next = h;
    if (h != null) {
      h.prev = s;
    }
    head = s;
    spliceCount++;
  }

  @SuppressWarnings(
      "NonAtomicVolatileUpdate") // spliceCount: the loop thread writes, others only read
  private void unlink(Splice s) {
    Splice p = s.prev;
    Splice n = s.next;
    if (p != null) {
      p.next = n;
    } else if (head == s) {
      head = n;
    }
    if (n != null) {
      n.prev = p;
    }
    s.prev = null;
    s.next = null;
    spliceCount--;
  }

  /**
   * Called by a splice as it closes, before its channels are closed, so the stats are current when
   * peers see it.
   */
  void closing(Splice s, CloseReason reason) {
    unlink(s);
    if (s.holdsClient()) {
      engine.releaseClient(s.connection.client().getAddress());
    }
    counters.closed(reason);
    engine.decrementActive();
  }

  /**
   * Called by a splice once it is closed: both channels closed, or (for registered ones) their keys
   * cancelled and the channels queued to be closed right after the next select, so the peers see
   * the FIN or RST just after this.
   */
  void closed(Splice s, CloseReason reason) {
    long end = System.nanoTime();
    if (s.takeAcceptPending()) {
      listener.accepted(
          s.connection); // a PROXY protocol connection that closed before its header named the
      // client
    }
    InetSocketAddress up = s.upstreamAddress();
    if (LOG.isDebugEnabled()) {
      LOG.debug(
          "{}: closed {} via {}, {} bytes up, {} down, {} ms",
          s.connection,
          reason,
          up,
          s.bytesUp,
          s.bytesDown,
          (end - s.start) / 1_000_000);
    }
    listener.closed(
        s.connection,
        new SpliceSummary(
            s.bytesUp,
            s.bytesDown,
            Duration.ofNanos(end - s.start),
            reason,
            up,
            s.upstreamHost,
            s.rejection));
  }

  @Override
  public void selectorLost() {
    closeSplices(CloseReason.ERROR);
  }

  @Override
  public void stopping() {
    closeSplices(CloseReason.SHUTDOWN);
    pool.clear();
  }

  private void closeSplices(CloseReason reason) {
    Splice s = head;
    while (s != null) {
      Splice next = s.next;
      try {
        s.close(reason, false, false);
      } catch (RuntimeException e) {
        LOG.warn("{}: error while closing", s.connection, e);
      }
      s = next;
    }
  }

  /**
   * Hands over the scratch buffer with the bytes a peer could not take yet (between its position
   * and limit) instead of copying them into a pool buffer; the loop reads into a pool buffer from
   * now on. The caller owns the returned buffer and releases it to the pool like any other.
   */
  ByteBuffer takeScratch() {
    ByteBuffer b = scratch;
    scratch = pool.acquire();
    return b;
  }
}
