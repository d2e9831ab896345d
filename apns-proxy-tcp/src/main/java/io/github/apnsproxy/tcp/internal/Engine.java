// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal;

import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.tcp.AddressFamily;
import io.github.apnsproxy.tcp.CloseReason;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.ProxyProtocol;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.SpliceStats;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketOption;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import jdk.net.ExtendedSocketOptions;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The splicer's machinery behind {@code TcpSplicer}: the loops, the listening channels, counters
 * and limits. {@link #start} and {@link #close} may be called from any thread (not from a loop
 * thread); the rest runs on loops.
 */
public final class Engine {
  private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
  private static final long STOP_WAIT_MS = 5_000;
  private static final InetAddress ANY4 = wildcard(new byte[4]);
  private static final InetAddress ANY6 = wildcard(new byte[16]);

  private static InetAddress wildcard(byte[] zeros) {
    try {
      return InetAddress.getByAddress(zeros);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e); // cannot happen for 4 or 16 bytes
    }
  }

  final Settings settings;
  final Counters counters;
  final SafeListener listener;

  /**
   * The connect stage's shared part: attempts, self-loop guard, failure memory, proxy addresses.
   */
  final Connector connector;

  private final ConcurrentHashMap<InetAddress, Integer> perClient = new ConcurrentHashMap<>();
  private final Object drainLock = new Object();
  private Loop[] loops = new Loop[0];
  private List<InetSocketAddress> bound = List.of();

  /** The listening channel of each bound address, in listen order; guarded by {@code this}. */
  private final Map<InetSocketAddress, ServerSocketChannel> listening = new LinkedHashMap<>();

  /**
   * The front door of each bound listener that has one; replaced whole (copy on write, under {@code
   * this}) when listeners are added or removed, read by the loops.
   */
  private volatile Map<InetSocketAddress, FrontDoor> doors = Map.of();

  /**
   * Whether any connection may need the preface stage; false keeps the address-routed path free of
   * it.
   */
  volatile boolean usesPreface;

  /**
   * What {@link #update} swaps: read once per connection by the loops at accept (policy, limits,
   * PROXY protocol) and once at the start of its route stage (router, egress).
   */
  private volatile Live live;

  /**
   * The parts of the configuration that may change while running, swapped together as one immutable
   * snapshot.
   *
   * @param router routes connections accepted from now on
   * @param policy the client allow-list checked at accept
   * @param maxConnections the connection limit
   * @param maxConnectionsPerClient the per-client limit, 0 = unlimited
   * @param proxyProtocol the PROXY protocol header required at accept ({@code OFF}: none)
   * @param proxyProtocolFrom the peers a PROXY protocol header is accepted from
   * @param egress how the upstream is reached by a connection whose route stage starts now
   * @param family which resolved addresses direct egress tries, in which order
   */
  public record Live(
      Router router,
      AddressPolicy policy,
      int maxConnections,
      int maxConnectionsPerClient,
      ProxyProtocol proxyProtocol,
      CidrSet proxyProtocolFrom,
      Egress egress,
      AddressFamily family) {
    /** This snapshot with {@code router} and {@code policy}. */
    public Live with(Router router, AddressPolicy policy) {
      return new Live(
          router,
          policy,
          maxConnections,
          maxConnectionsPerClient,
          proxyProtocol,
          proxyProtocolFrom,
          egress,
          family);
    }

    /** This snapshot with the connection limits. */
    public Live withLimits(int max, int maxPerClient) {
      return new Live(
          router, policy, max, maxPerClient, proxyProtocol, proxyProtocolFrom, egress, family);
    }

    /** This snapshot with the PROXY protocol mode and its trusted peers. */
    public Live withProxyProtocol(ProxyProtocol mode, CidrSet from) {
      return new Live(
          router, policy, maxConnections, maxConnectionsPerClient, mode, from, egress, family);
    }

    /** This snapshot with the egress and the address family. */
    public Live withEgress(Egress e, AddressFamily f) {
      return new Live(
          router,
          policy,
          maxConnections,
          maxConnectionsPerClient,
          proxyProtocol,
          proxyProtocolFrom,
          e,
          f);
    }
  }

  /** {@link #acquireClient}: refused at the per-client limit. */
  static final int REFUSED = -1;

  /** {@link #acquireClient}: allowed, not counted (no per-client limit); nothing to release. */
  static final int UNCOUNTED = 0;

  /** {@link #acquireClient}: allowed and counted; release with {@link #releaseClient}. */
  static final int COUNTED = 1;

  private int nextLoop; // acceptor loop thread only
  private boolean started;
  private boolean closed;
  private volatile boolean draining;
  private volatile boolean drainCut;
  private @Nullable CompletableFuture<Void> closing;

  /**
   * False when a listener refused the keepalive times: accepted sockets then always get them set.
   */
  volatile boolean listenersKeepAlive = true;

  /** Makes an engine; nothing is opened until {@link #start}. */
  public Engine(Settings settings) {
    this.settings = settings;
    this.counters = new Counters(settings.doors());
    this.listener = new SafeListener(settings.listener());
    this.connector = new Connector(settings);
    this.usesPreface = settings.usesPreface();
    this.live =
        new Live(
            settings.router(),
            settings.policy(),
            settings.maxConnections(),
            settings.maxConnectionsPerClient(),
            settings.proxyProtocol(),
            settings.proxyProtocolFrom(),
            settings.egress(),
            settings.family());
  }

  /** The current router, policy, limits, PROXY protocol and egress; any thread. */
  public Live live() {
    return live;
  }

  /**
   * Swaps the router, policy, limits, PROXY protocol and egress at once; connections accepted from
   * now on see them. Any thread.
   */
  public synchronized void update(Live next) {
    live = next;
  }

  /**
   * Resolves the host names of {@code egress}'s proxies not known yet (this may block on the system
   * resolver), so the first connection through them finds their addresses; call before an {@link
   * #update} that installs it, outside any lock. Any thread but a loop thread.
   */
  public void resolveProxies(Egress egress) {
    connector.egressChanged(egress);
  }

  /**
   * {@code router} (as given, before any wrapping) is about to be installed: the self-loop guard
   * learns its plan first, so no connection reaches an address of the new plan unguarded. Any
   * thread.
   */
  public void routerChanged(Router router) {
    connector.routerChanged(router);
  }

  /**
   * Sets the front door of bound listeners ({@code null}: none, routed by the dialled address) for
   * connections accepted from now on; connections already accepted keep theirs. Any thread.
   *
   * @throws IllegalArgumentException naming an address that is not listened on, or a door whose
   *     prefaces do not fit the buffer size; nothing changes then
   */
  public synchronized void door(List<InetSocketAddress> addresses, @Nullable FrontDoor door) {
    if (!started || closed) {
      throw new IllegalStateException(
          "splicer is not running (expected door(...) between start() and close())");
    }
    String mismatch = door == null ? null : Settings.doorMismatch(door, settings.bufferSize());
    if (mismatch != null) {
      throw new IllegalArgumentException(mismatch);
    }
    for (InetSocketAddress a : addresses) {
      if (!listening.containsKey(a)) {
        throw new IllegalArgumentException(
            "not listening on " + a + " (expected one of the bound addresses)");
      }
    }
    Map<InetSocketAddress, FrontDoor> ds = new HashMap<>(doors);
    for (InetSocketAddress a : addresses) {
      if (door == null) {
        ds.remove(a);
      } else {
        ds.put(a, door);
      }
    }
    doors = Map.copyOf(ds);
    if (door != null) {
      usesPreface = true; // never reset: a stale true only costs an empty map look-up
    }
  }

  /** The front door of the bound listener {@code address}, if it has one; any thread. */
  public @Nullable FrontDoor door(InetSocketAddress address) {
    return doors.get(address);
  }

  /**
   * The front door of the listener that accepted a connection dialling {@code local} (an exact
   * listen address, else a wildcard one on that port); null for none. Loop threads, after start.
   */
  @Nullable FrontDoor doorFor(InetSocketAddress local) {
    Map<InetSocketAddress, FrontDoor> ds = doors;
    if (ds.isEmpty()) {
      return null;
    }
    FrontDoor d = ds.get(local);
    if (d == null) {
      InetAddress any = local.getAddress() instanceof Inet4Address ? ANY4 : ANY6;
      d = ds.get(new InetSocketAddress(any, local.getPort()));
    }
    return d;
  }

  /** Binds every listen address and starts the loops. */
  public synchronized void start() throws IOException {
    if (closed) {
      throw new IllegalStateException("splicer is closed (expected start() before close())");
    }
    if (started) {
      throw new IllegalStateException("splicer already started (expected one start())");
    }
    List<ServerSocketChannel> servers = new ArrayList<>();
    List<InetSocketAddress> addresses = new ArrayList<>();
    Loop[] made = new Loop[settings.loops()];
    try {
      for (InetSocketAddress a : settings.listen()) {
        addresses.add(bind(a, servers));
      }
      Map<InetSocketAddress, FrontDoor> ds = new HashMap<>();
      for (int i = 0; i < addresses.size(); i++) {
        FrontDoor d = settings.doors().get(i);
        if (d != null) {
          ds.put(addresses.get(i), d);
        }
      }
      doors = Map.copyOf(ds);
      for (int i = 0; i < made.length; i++) {
        made[i] = new Loop(this, i);
      }
      for (ServerSocketChannel s : servers) {
        made[0].addServer(s);
      }
    } catch (IOException | RuntimeException e) {
      for (ServerSocketChannel s : servers) {
        try {
          s.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      for (Loop l : made) {
        if (l != null) {
          try {
            l.kernel.discard();
          } catch (IOException suppressed) {
            e.addSuppressed(suppressed);
          }
        }
      }
      throw e;
    }
    loops = made;
    bound = List.copyOf(addresses);
    for (int i = 0; i < addresses.size(); i++) {
      listening.put(addresses.get(i), servers.get(i));
    }
    connector.listening(bound, live.egress());
    started = true;
    for (Loop l : loops) {
      l.kernel.start();
    }
    LOG.info("TCP splicer listening on {} with {} loops", summary(bound), loops.length);
  }

  /**
   * Opens and binds one listener, adding it to {@code opened} first so a failure can close it; its
   * bound address.
   */
  private InetSocketAddress bind(InetSocketAddress a, List<ServerSocketChannel> opened)
      throws IOException {
    // an IPv4 listener for an IPv4 address: accepted sockets are then plain IPv4 ones, not
    // v4-mapped IPv6
    ServerSocketChannel s =
        ServerSocketChannel.open(
            a.getAddress() instanceof Inet4Address
                ? StandardProtocolFamily.INET
                : StandardProtocolFamily.INET6);
    opened.add(s);
    try {
      s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      if (settings.reusePort()) {
        if (!s.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT)) {
          throw new IOException(
              "SO_REUSEPORT (reusePort, config key tcp.reuse-port) is not supported here");
        }
        s.setOption(StandardSocketOptions.SO_REUSEPORT, true);
      }
      s.bind(a, 1024);
      s.configureBlocking(false);
      setListenerKeepAlive(s);
    } catch (IOException e) {
      throw new IOException("cannot listen on " + a + ": " + e.getMessage(), e);
    }
    return (InetSocketAddress) s.getLocalAddress();
  }

  /**
   * Binds {@code addresses} (all or none) and starts accepting on them, with {@code door} as their
   * front door; returns their bound addresses. Any thread but a loop thread.
   */
  public synchronized List<InetSocketAddress> addListeners(
      List<InetSocketAddress> addresses, @Nullable FrontDoor door) throws IOException {
    if (!started || closed) {
      throw new IllegalStateException(
          "splicer is not running (expected addListeners between start() and close())");
    }
    for (InetSocketAddress a : addresses) {
      if (listening.containsKey(a)) {
        throw new IllegalArgumentException("already listening on " + a);
      }
    }
    List<ServerSocketChannel> opened = new ArrayList<>();
    List<InetSocketAddress> added = new ArrayList<>();
    try {
      for (InetSocketAddress a : addresses) {
        added.add(bind(a, opened));
      }
    } catch (IOException | RuntimeException e) {
      for (ServerSocketChannel s : opened) {
        try {
          s.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw e;
    }
    if (door != null) {
      Map<InetSocketAddress, FrontDoor> ds = new HashMap<>(doors);
      for (InetSocketAddress a : added) {
        ds.put(a, door);
      }
      doors = Map.copyOf(ds);
      usesPreface = true;
    }
    Loop acceptor = loops[0];
    onLoop(
        acceptor,
        () -> {
          for (ServerSocketChannel s : opened) {
            try {
              acceptor.addServerRunning(s);
            } catch (IOException e) {
              LOG.warn("cannot accept on {}", s, e);
            }
          }
        });
    for (int i = 0; i < added.size(); i++) {
      listening.put(added.get(i), opened.get(i));
    }
    bound = List.copyOf(listening.keySet());
    connector.listening(bound, live.egress()); // the self-loop guard follows the listeners
    LOG.info("TCP splicer now also listening on {}", summary(added));
    return List.copyOf(added);
  }

  /**
   * Stops accepting on {@code addresses} (bound addresses) and closes their listeners; connections
   * accepted on them go on until they end. Any thread but a loop thread.
   */
  public synchronized void removeListeners(List<InetSocketAddress> addresses) {
    if (!started || closed) {
      throw new IllegalStateException(
          "splicer is not running (expected removeListeners between start() and" + " close())");
    }
    List<ServerSocketChannel> gone = new ArrayList<>();
    for (InetSocketAddress a : addresses) {
      ServerSocketChannel s = listening.get(a);
      if (s == null) {
        throw new IllegalArgumentException(
            "not listening on " + a + " (expected one of the bound addresses)");
      }
      gone.add(s);
    }
    Loop acceptor = loops[0];
    onLoop(acceptor, () -> gone.forEach(acceptor::closeServer));
    // A registered channel's socket is released only when the selector drops its cancelled key, in
    // the loop's next
    // select; a second task runs only after that select, so once it is done the address no longer
    // accepts.
    onLoop(acceptor, () -> {});
    Map<InetSocketAddress, FrontDoor> ds = new HashMap<>(doors);
    for (InetSocketAddress a : addresses) {
      listening.remove(a);
      ds.remove(a);
    }
    doors = Map.copyOf(ds);
    bound = List.copyOf(listening.keySet());
    connector.listening(bound, live.egress()); // the self-loop guard follows the listeners
    LOG.info("TCP splicer stopped listening on {}", summary(addresses));
  }

  /** Runs {@code task} on {@code loop} and waits (bounded) for it. */
  private static void onLoop(Loop loop, Runnable task) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    loop.execute(
        () -> {
          try {
            task.run();
          } finally {
            done.complete(null);
          }
        });
    try {
      done.get(STOP_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      LOG.warn(
          "{} did not take the listener change within {} ms",
          loop.thread.getName(),
          STOP_WAIT_MS,
          e);
    }
  }

  /** The bound listen addresses (real ports); empty before start. */
  public synchronized List<InetSocketAddress> boundAddresses() {
    return bound;
  }

  /** A snapshot of the counters, with the buffers held for blocked peers. */
  public SpliceStats stats() {
    return counters.snapshot(outstandingBuffers(), prefaceBytes());
  }

  /** Buffers held by splices for blocked peers, over all loops. */
  private int outstandingBuffers() {
    int n = 0;
    for (Loop l : currentLoops()) {
      n += l.outstandingBuffers();
    }
    return n;
  }

  /** Bytes held by connections waiting for their preface, over all loops. */
  public long prefaceBytes() {
    long n = 0;
    for (Loop l : currentLoops()) {
      n += l.prefaceBytes();
    }
    return n;
  }

  /** For tests: the next {@code select()} of every loop fails as a broken selector would. */
  public void failNextSelect() {
    for (Loop l : currentLoops()) {
      l.kernel.failNextSelect(new IOException("injected select failure"));
    }
  }

  /** Selector rebuilds over all loops. */
  public int selectorRebuilds() {
    int n = 0;
    for (Loop l : currentLoops()) {
      n += l.kernel.selectorRebuilds();
    }
    return n;
  }

  /** Valid selector keys over all loops (listeners included); 0 once closed. For tests. */
  public int registeredKeys() {
    int n = 0;
    for (Loop l : currentLoops()) {
      if (!l.thread.isAlive()) {
        continue;
      }
      CompletableFuture<Integer> f = new CompletableFuture<>();
      l.execute(() -> f.complete(l.validKeys()));
      try {
        n += f.get(STOP_WAIT_MS, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return -1;
      } catch (ExecutionException | TimeoutException e) {
        // the loop stopped meanwhile: its selector is closed and holds no key
      }
    }
    return n;
  }

  private synchronized Loop[] currentLoops() {
    return loops;
  }

  /**
   * Sets the keepalive idle time and interval on a listener too: Linux copies them into every
   * accepted socket, which then needs two system calls less (each loop checks this on its first
   * accepted connection and falls back to setting them per connection where they are not
   * inherited). Best effort: when a listener refuses them, every connection gets them set on its
   * own.
   */
  private void setListenerKeepAlive(ServerSocketChannel s) {
    try {
      Set<SocketOption<?>> supported = s.supportedOptions();
      if (settings.keepAliveIdleSeconds() > 0
          && supported.contains(ExtendedSocketOptions.TCP_KEEPIDLE)) {
        s.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, settings.keepAliveIdleSeconds());
      }
      if (settings.keepAliveIntervalSeconds() > 0
          && supported.contains(ExtendedSocketOptions.TCP_KEEPINTERVAL)) {
        s.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, settings.keepAliveIntervalSeconds());
      }
    } catch (IOException | RuntimeException e) {
      listenersKeepAlive = false;
      LOG.debug("keepalive options not set on the listener {}; they are set per connection", s, e);
    }
  }

  /** How long accepting pauses when a connection was refused at the connection limit. */
  private static final long LIMIT_PAUSE_NANOS = 20_000_000L;

  /** Started, not closed, every loop running. */
  public synchronized boolean isServing() {
    if (!started || closed) {
      return false;
    }
    for (Loop l : loops) {
      if (!l.isRunning()) {
        return false;
      }
    }
    return true;
  }

  /** Pauses accepting briefly (the listeners live on the first loop); any loop thread. */
  void pauseAccepting() {
    Loop acceptor = loops[0];
    if (Thread.currentThread() == acceptor.thread) {
      acceptor.pauseAccepting(LIMIT_PAUSE_NANOS);
    } else {
      acceptor.execute(() -> acceptor.pauseAccepting(LIMIT_PAUSE_NANOS));
    }
  }

  /** Hands an accepted channel to the next loop, round robin. Acceptor loop thread. */
  void dispatch(SocketChannel ch, Loop acceptor) {
    counters.accepted.increment();
    Loop[] ls = loops;
    for (int tries = 0; tries < ls.length; tries++) {
      Loop target = ls[nextLoop];
      nextLoop = nextLoop + 1 == ls.length ? 0 : nextLoop + 1;
      if (!target.isRunning()) {
        continue; // a loop that died (the JVM failed under it) gets no more connections
      }
      if (target == acceptor) {
        target.adopt(ch);
      } else {
        target.adoptLater(ch);
      }
      return;
    }
    counters.closed(CloseReason.SHUTDOWN);
    Splice.closeChannel(ch, false);
  }

  /**
   * Counts a connection against its client's limit: {@link #REFUSED} at the limit, {@link #COUNTED}
   * (release it with {@link #releaseClient}), or {@link #UNCOUNTED} when there is no per-client
   * limit.
   */
  int acquireClient(InetAddress client) {
    int limit = live.maxConnectionsPerClient();
    if (limit <= 0) {
      return UNCOUNTED;
    }
    boolean[] ok = {true};
    perClient.compute(
        client,
        (k, v) -> {
          int c = v == null ? 0 : v;
          if (c >= limit) {
            ok[0] = false;
            return v;
          }
          return c + 1;
        });
    return ok[0] ? COUNTED : REFUSED;
  }

  /** Releases a connection {@link #acquireClient} counted. */
  void releaseClient(InetAddress client) {
    perClient.computeIfPresent(client, (k, v) -> v <= 1 ? null : v - 1);
  }

  void decrementActive() {
    if (counters.active.decrementAndGet() == 0 && draining) {
      synchronized (drainLock) {
        drainLock.notifyAll();
      }
    }
  }

  /**
   * Stops accepting, waits up to {@code drain} for live splices to finish, then closes the rest and
   * stops the loops, on a thread of its own ({@code apns-proxy-tcp-close}); the future completes
   * when the loops have stopped. Callable from any thread, a loop thread included. Idempotent:
   * later calls return the same future.
   */
  public CompletableFuture<Void> closeAsync(Duration drain) {
    Loop[] ls;
    CompletableFuture<Void> done;
    synchronized (this) {
      CompletableFuture<Void> f = closing;
      if (f != null) {
        return f;
      }
      done = new CompletableFuture<>();
      closing = done;
      closed = true;
      connector.close();
      ls = loops;
      if (!started) {
        done.complete(null);
        return done;
      }
    }
    Thread t =
        new Thread(
            () -> {
              try {
                shutdown(ls, drain);
                done.complete(null);
              } catch (RuntimeException e) {
                LOG.warn("closing the TCP splicer failed", e);
                done.completeExceptionally(e);
              } catch (Error e) {
                done.completeExceptionally(e);
                throw e;
              }
            },
            "apns-proxy-tcp-close");
    t.start();
    return done;
  }

  /**
   * {@link #closeAsync} and waits for it; refused on a loop thread (it would wait for itself). An
   * interrupt cuts the drain short; the loops are stopped either way and the interrupt is kept.
   */
  public void close(Duration drain) {
    synchronized (this) {
      for (Loop l : loops) {
        if (l != null && Thread.currentThread() == l.thread) {
          // checked before anything changes, so a later close() from another thread still works
          throw new IllegalStateException(
              "close() called on a loop thread (expected another thread, or closeAsync)");
        }
      }
    }
    CompletableFuture<Void> f = closeAsync(drain);
    boolean interrupted = false;
    while (true) {
      try {
        f.get();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
        cutDrain();
      } catch (ExecutionException e) {
        LOG.warn("closing the TCP splicer failed", e.getCause());
        break;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void cutDrain() {
    drainCut = true;
    synchronized (drainLock) {
      drainLock.notifyAll();
    }
  }

  private void shutdown(Loop[] ls, Duration drain) {
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    ls[0].execute(
        () -> {
          ls[0].closeServers();
          stopped.complete(null);
        });
    boolean interrupted = false;
    try {
      stopped.get(STOP_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      interrupted = true;
    } catch (ExecutionException | TimeoutException e) {
      LOG.warn("stopping the listeners did not finish in time", e);
    }
    if (!drain.isZero() && !drain.isNegative() && !interrupted) {
      long deadline = System.nanoTime() + saturatedNanos(drain);
      draining = true;
      synchronized (drainLock) {
        long left;
        while (counters.active.get() > 0
            && !drainCut
            && (left = deadline - System.nanoTime()) > 0) {
          try {
            TimeUnit.NANOSECONDS.timedWait(drainLock, left);
          } catch (InterruptedException e) {
            interrupted = true;
            break;
          }
        }
      }
    }
    int live = counters.active.get();
    for (Loop l : ls) {
      l.stop();
    }
    for (Loop l : ls) {
      try {
        l.thread.join(STOP_WAIT_MS);
      } catch (InterruptedException e) {
        interrupted = true;
      }
      if (l.thread.isAlive()) {
        LOG.warn("{} did not stop within {} ms", l.thread.getName(), STOP_WAIT_MS);
      }
    }
    LOG.info("TCP splicer on {} closed ({} live connections closed)", summary(bound), live);
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 2; // longer than any process lives
    }
  }

  /** A log-friendly list: every address when few, else the count with the first and last. */
  private static String summary(java.util.List<?> addresses) {
    if (addresses.size() <= 4) {
      return addresses.toString();
    }
    return addresses.size()
        + " addresses ("
        + addresses.get(0)
        + " ... "
        + addresses.get(addresses.size() - 1)
        + ")";
  }
}
