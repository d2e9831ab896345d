// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.InboundConnection;
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
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.net.ExtendedSocketOptions;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One selector loop: one thread ({@code apns-proxy-tcp-loop-N}) that owns a selector, the splices registered on it,
 * a shared scratch read buffer, a buffer pool and a coarse timer (the intrusive splice list, scanned when the
 * earliest known deadline passes). Other threads hand work in with {@link #execute}, which wakes the selector only
 * when the loop may be blocked in {@code select} (the Netty/Jetty guarded wakeup).
 */
final class Loop implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(Loop.class);
  private static final long MIN_BACKOFF = 10_000_000L;
  private static final long MAX_BACKOFF = 1_000_000_000L;
  private static final int ACCEPT_BATCH = 64;

  final Engine engine;
  final Settings settings;
  final Counters counters;
  final SpliceListener listener;
  final Selector selector;
  final Thread thread;
  final ByteBuffer scratch;
  final BufferPool pool;
  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  /** True while the loop is awake (or a wakeup is pending): producers then skip the wakeup system call. */
  private final AtomicBoolean awake = new AtomicBoolean(true);
  private final List<ServerSocketChannel> servers = new ArrayList<>();
  private final boolean keepIdleSupported;
  private final boolean keepIntervalSupported;
  /** Whether accepted sockets inherit the listener's keepalive times: 0 not known yet, 1 yes, -1 no. Loop only. */
  private int keepAliveInherited;
  /**
   * Channels whose keys were cancelled, closed right after the next select has deregistered them: closing a channel
   * that is still registered costs a getsockopt and a shutdown more in the JDK. Loop thread only.
   */
  private final ArrayList<SocketChannel> toClose = new ArrayList<>();
  private volatile boolean stopping;
  /** False once the loop has stopped, normally or because the JVM failed under it: it adopts nothing more. */
  private volatile boolean running = true;
  private volatile int spliceCount;

  /** The time of the last wakeup; what the splices use as "now". Loop thread only. */
  long now = System.nanoTime();
  private long nextScan = Long.MAX_VALUE;
  private @Nullable Splice head;
  private long acceptResumeAt = Long.MAX_VALUE;
  private long acceptBackoff;

  Loop(Engine engine, int index) throws IOException {
    this.engine = engine;
    this.settings = engine.settings;
    this.counters = engine.counters;
    this.listener = engine.listener;
    this.selector = Selector.open();
    this.scratch = ByteBuffer.allocateDirect(settings.bufferSize());
    this.pool = new BufferPool(settings.bufferSize());
    this.thread = new Thread(this, "apns-proxy-tcp-loop-" + index);
    this.thread.setDaemon(true);
    boolean idle = false;
    boolean interval = false;
    try (SocketChannel probe = SocketChannel.open()) {
      Set<SocketOption<?>> supported = probe.supportedOptions();
      idle = supported.contains(ExtendedSocketOptions.TCP_KEEPIDLE);
      interval = supported.contains(ExtendedSocketOptions.TCP_KEEPINTERVAL);
    }
    this.keepIdleSupported = idle;
    this.keepIntervalSupported = interval;
  }

  /** Registers a listening channel for accepting; before the thread starts only. */
  void addServer(ServerSocketChannel server) throws IOException {
    server.register(selector, SelectionKey.OP_ACCEPT, server);
    servers.add(server);
  }

  /** Runs {@code task} on this loop's thread; callable from any thread. */
  void execute(Runnable task) {
    tasks.add(task);
    // The loop sets awake=false before its last look at the queue; if we win the CAS it may be selecting, so wake
    // it. A wakeup before select() is remembered, so the race costs at most one spurious wakeup.
    if (Thread.currentThread() != thread && awake.compareAndSet(false, true)) {
      selector.wakeup();
    }
  }

  boolean isRunning() {
    return running;
  }

  /** Hands an accepted channel to this loop from the acceptor's thread. */
  void adoptLater(SocketChannel ch) {
    execute(new Adopt(ch));
    if (!running) {
      dropAdoptions(); // stopped meanwhile: nobody will run it
    }
  }

  /** An accepted channel on its way to this loop; closed if the loop stops first. */
  private final class Adopt implements Runnable {
    final SocketChannel ch;

    Adopt(SocketChannel ch) {
      this.ch = ch;
    }

    @Override
    public void run() {
      adopt(ch);
    }
  }

  /** Drops the queued tasks of a stopped loop, closing the accepted channels among them; any thread. */
  private void dropAdoptions() {
    Runnable r;
    while ((r = tasks.poll()) != null) {
      if (r instanceof Adopt a) {
        counters.closed(CloseReason.SHUTDOWN);
        Splice.closeChannel(a.ch, false);
      }
    }
  }

  void stop() {
    stopping = true;
    execute(() -> { });
  }

  int spliceCount() {
    return spliceCount;
  }

  int outstandingBuffers() {
    return pool.outstanding();
  }

  /** Valid registered keys; loop thread only. */
  int validKeys() {
    int n = 0;
    for (SelectionKey k : selector.keys()) {
      if (k.isValid()) {
        n++;
      }
    }
    return n;
  }

  void schedule(long deadline) {
    if (deadline < nextScan) {
      nextScan = deadline;
    }
  }

  @Override
  public void run() {
    LOG.debug("{} started", thread.getName());
    try {
      while (!stopping) {
        awake.set(false);
        long wake = Math.min(nextScan, acceptResumeAt);
        if (!tasks.isEmpty() || !toClose.isEmpty()) {
          selector.selectNow(); // channels waiting to be closed must not wait for traffic
        } else if (wake == Long.MAX_VALUE) {
          selector.select();
        } else {
          long ms = (wake - System.nanoTime() + 999_999L) / 1_000_000L;
          if (ms <= 0) {
            selector.selectNow();
          } else {
            selector.select(ms);
          }
        }
        awake.set(true);
        now = System.nanoTime();
        closeDeregistered();
        processKeys();
        runTasks();
        if (acceptResumeAt != Long.MAX_VALUE && now - acceptResumeAt >= 0) {
          acceptResumeAt = Long.MAX_VALUE;
          setAcceptInterest(SelectionKey.OP_ACCEPT);
        }
        if (now - nextScan >= 0) {
          scan();
        }
      }
    } catch (Throwable t) {
      LOG.warn("{} failed; closing its connections", thread.getName(), t);
    } finally {
      shutdownNow();
    }
  }

  private void processKeys() {
    Set<SelectionKey> selected = selector.selectedKeys();
    if (selected.isEmpty()) {
      return;
    }
    Iterator<SelectionKey> it = selected.iterator();
    while (it.hasNext()) {
      SelectionKey k = it.next();
      it.remove();
      if (!k.isValid()) {
        continue;
      }
      Object a = k.attachment();
      if (a instanceof Splice s) {
        try {
          s.onReady(k);
        } catch (RuntimeException | Error e) {
          Errors.rethrowFatal(e);
          LOG.warn("{}: unexpected error; closing this connection", s.connection, e);
          s.close(CloseReason.ERROR, true, true);
        }
      } else if (a instanceof ServerSocketChannel server) {
        accept(server);
      }
    }
  }

  private void runTasks() {
    Runnable r;
    // bounded: tasks added while we run wait for the next turn, so I/O is never starved
    for (int i = tasks.size(); i > 0 && (r = tasks.poll()) != null; i--) {
      try {
        r.run();
      } catch (RuntimeException | Error e) {
        Errors.rethrowFatal(e);
        LOG.warn("{}: task failed", thread.getName(), e);
      }
    }
  }

  /** Fires due timers and finds the next deadline. Runs when the earliest known deadline has passed. */
  private void scan() {
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
    nextScan = min;
  }

  private void accept(ServerSocketChannel server) {
    for (int i = 0; i < ACCEPT_BATCH && acceptResumeAt == Long.MAX_VALUE; i++) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        // EMFILE/ENFILE/ENOBUFS: stop accepting for a while instead of spinning on a ready listener
        acceptBackoff = acceptBackoff == 0 ? MIN_BACKOFF : Math.min(acceptBackoff * 2, MAX_BACKOFF);
        LOG.warn("accept on {} failed ({}); pausing accepts for {} ms", server, e.toString(),
            acceptBackoff / 1_000_000);
        setAcceptInterest(0);
        acceptResumeAt = now + acceptBackoff;
        return;
      }
      if (ch == null) {
        return;
      }
      acceptBackoff = 0;
      engine.dispatch(ch, this);
    }
  }

  /** At the connection limit: accepting stops for {@code nanos} (unless already paused); this loop's thread. */
  void pauseAccepting(long nanos) {
    if (servers.isEmpty() || acceptResumeAt != Long.MAX_VALUE) {
      return;
    }
    setAcceptInterest(0);
    acceptResumeAt = System.nanoTime() + nanos;
  }

  private void setAcceptInterest(int ops) {
    for (ServerSocketChannel s : servers) {
      SelectionKey k = s.keyFor(selector);
      if (k != null && k.isValid()) {
        k.interestOps(ops);
      }
    }
  }

  void closeServers() {
    for (ServerSocketChannel s : servers) {
      try {
        s.close();
      } catch (IOException e) {
        LOG.debug("closing {} failed", s, e);
      }
    }
    servers.clear();
  }

  /** Takes over an accepted channel: checks the policy and limits, then starts routing. Loop thread. */
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
    listener.accepted(conn);
    if (!settings.policy().allowsClient(remote.getAddress())) {
      refuse(ch, conn, RejectReason.CLIENT_DENIED, CloseReason.CLIENT_DENIED);
      return;
    }
    if (counters.active.incrementAndGet() > settings.maxConnections()) {
      engine.decrementActive();
      refuse(ch, conn, RejectReason.MAX_CONNECTIONS, CloseReason.LIMIT);
      engine.pauseAccepting(); // newcomers wait in the backlog for a moment instead of being accepted and closed
      return;
    }
    if (!engine.acquireClient(remote.getAddress())) {
      engine.decrementActive();
      refuse(ch, conn, RejectReason.MAX_PER_CLIENT, CloseReason.LIMIT);
      return;
    }
    try {
      ch.configureBlocking(false);
      configureAccepted(ch);
    } catch (IOException e) {
      engine.releaseClient(remote.getAddress());
      engine.decrementActive();
      Splice.closeChannel(ch, false);
      counters.closed(CloseReason.CLIENT_GONE);
      listener.closed(conn, new SpliceSummary(0, 0, Duration.ZERO, CloseReason.CLIENT_GONE, null));
      return;
    }
    Splice s = new Splice(this, ch, conn, now);
    link(s);
    s.route();
  }

  private void refuse(SocketChannel ch, InboundConnection conn, RejectReason why, CloseReason reason) {
    // count first: whoever sees the close may look at the stats at once
    counters.rejected(why);
    counters.closed(reason);
    Splice.closeChannel(ch, false);
    LOG.debug("{}: refused at accept: {}", conn, why);
    listener.closed(conn, new SpliceSummary(0, 0, Duration.ZERO, reason, null));
  }

  /** TCP_NODELAY and keepalive on an upstream socket. */
  void configure(SocketChannel ch) throws IOException {
    setNoDelayAndKeepAlive(ch);
    setKeepAliveTimes(ch);
  }

  /**
   * The same on an accepted socket, whose keepalive times may come from the listener already: the first accepted
   * socket of this loop is asked, and the answer holds for the rest (the engine sets the times on every listener).
   */
  private void configureAccepted(SocketChannel ch) throws IOException {
    setNoDelayAndKeepAlive(ch);
    if (keepAliveInherited == 0) {
      keepAliveInherited = engine.listenersKeepAlive && hasKeepAliveTimes(ch) ? 1 : -1;
      LOG.debug("{}: accepted sockets {} the listener's keepalive times", thread.getName(),
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
    return (idle <= 0 || !keepIdleSupported || ch.getOption(ExtendedSocketOptions.TCP_KEEPIDLE) == idle)
        && (interval <= 0 || !keepIntervalSupported
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
   * Closes a splice's channel (with a reset if asked). A registered one has its key cancelled now and is closed after
   * the next select, which deregisters it; the peer sees the FIN or RST one loop turn later.
   */
  void close(SocketChannel ch, @Nullable SelectionKey key, boolean reset) {
    if (reset) {
      Splice.setLingerZero(ch);
    }
    if (key != null && key.isValid() && !stopping) {
      key.cancel();
      toClose.add(ch);
    } else {
      Splice.closeChannel(ch, false);
    }
  }

  private void closeDeregistered() {
    ArrayList<SocketChannel> list = toClose;
    int n = list.size();
    if (n == 0) {
      return;
    }
    for (int i = 0; i < n; i++) {
      Splice.closeChannel(list.get(i), false);
    }
    list.clear();
  }

  void routeCompleted(Splice s, @Nullable Route route, @Nullable Throwable failure) {
    if (Thread.currentThread() == thread) {
      s.onRoute(route, failure);
    } else {
      execute(() -> s.onRoute(route, failure));
    }
  }

  @SuppressWarnings("NonAtomicVolatileUpdate") // spliceCount: the loop thread writes, others only read
  private void link(Splice s) {
    Splice h = head;
    s.next = h;
    if (h != null) {
      h.prev = s;
    }
    head = s;
    spliceCount++;
  }

  @SuppressWarnings("NonAtomicVolatileUpdate") // spliceCount: the loop thread writes, others only read
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

  /** Called by a splice as it closes, before its channels are closed, so the stats are current when peers see it. */
  void closing(Splice s, CloseReason reason) {
    unlink(s);
    engine.releaseClient(s.connection.client().getAddress());
    counters.closed(reason);
    engine.decrementActive();
  }

  /**
   * Called by a splice once it is closed: both channels closed, or (for registered ones) their keys cancelled and
   * the channels queued to be closed right after the next select, so the peers see the FIN or RST just after this.
   */
  void closed(Splice s, CloseReason reason) {
    long end = System.nanoTime();
    InetSocketAddress up = s.upstreamAddress();
    if (LOG.isDebugEnabled()) {
      LOG.debug("{}: closed {} via {}, {} bytes up, {} down, {} ms", s.connection, reason, up, s.bytesUp,
          s.bytesDown, (end - s.start) / 1_000_000);
    }
    listener.closed(s.connection,
        new SpliceSummary(s.bytesUp, s.bytesDown, Duration.ofNanos(end - s.start), reason, up));
  }

  private void shutdownNow() {
    running = false;
    closeServers();
    try {
      runTasks(); // adopts channels dispatched before the stop, so the loop below closes them too
    } catch (RuntimeException | Error e) {
      LOG.warn("{}: a task failed while stopping", thread.getName(), e);
    }
    Splice s = head;
    while (s != null) {
      Splice next = s.next;
      try {
        s.close(CloseReason.SHUTDOWN, false, false);
      } catch (RuntimeException e) {
        LOG.warn("{}: error while closing", s.connection, e);
      }
      s = next;
    }
    head = null;
    // Tasks handed in after the stop: late route completions only touch closed splices; accepted channels are closed.
    dropAdoptions();
    try {
      selector.close();
    } catch (IOException e) {
      LOG.debug("closing the selector of {} failed", thread.getName(), e);
    }
    closeDeregistered();
    pool.clear();
    LOG.debug("{} stopped", thread.getName());
  }
}
