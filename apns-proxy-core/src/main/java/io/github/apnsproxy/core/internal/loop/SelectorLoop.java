// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal.loop;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One selector loop: a thread that owns a selector and every channel registered on it. Other
 * threads hand work in with {@link #execute}, which wakes the selector only when the loop may be
 * blocked in {@code select} (the Netty/Jetty guarded wakeup). One turn: select until the earliest
 * deadline (keys are handled as the selector finds them, without a selected-key set), close the
 * channels whose keys the select deregistered, run the tasks queued before the turn (a bounded
 * drain: tasks added meanwhile wait for the next turn, so I/O is never starved), resume accepting
 * after a pause, fire the timers.
 *
 * <p>Containment: a key whose handler throws closes that key's connection ({@link
 * KeyHandler#onFailure}); a task that throws is logged; neither ends the loop. Only the JVM failing
 * ({@link #rethrowFatal}) ends it. A {@code select()} that fails (an {@link IOException}, or the
 * selector closed under the loop) makes the loop rebuild its selector - a new one with every live
 * channel registered again with its interest ops and attachment - and go on, as Jetty's {@code
 * ManagedSelector} does.
 *
 * <p>Accepting: the listeners given to {@link #addServer} are accepted in batches; a failing accept
 * (EMFILE, ENFILE, ENOBUFS) pauses accepting with exponential backoff (10 ms to 1 s) instead of
 * spinning on a ready listener.
 *
 * <p>Threading: {@link #execute}, {@link #stop}, {@link #isRunning} and {@link #join} are callable
 * from any thread; everything else from the loop thread only (or before {@link #start}).
 */
public final class SelectorLoop {
  private static final Logger LOG = LoggerFactory.getLogger(SelectorLoop.class);
  private static final long MIN_BACKOFF = 10_000_000L;
  private static final long MAX_BACKOFF = 1_000_000_000L;
  private static final int ACCEPT_BATCH = 64;

  private final LoopHandler handler;
  private final Thread thread;

  /** Written by the loop thread when it rebuilds; read by producers for the wakeup. */
  private volatile Selector selector;

  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();

  /**
   * True while the loop is awake (or a wakeup is pending): producers then skip the wakeup system
   * call.
   */
  private final AtomicBoolean awake = new AtomicBoolean(true);

  private final ArrayList<Listener> listeners = new ArrayList<>();

  /**
   * Channels whose keys were cancelled this turn, closed right after the next select has
   * deregistered them: closing a channel that is still registered costs a getsockopt and a shutdown
   * more in the JDK.
   */
  private ArrayList<SelectableChannel> toClose = new ArrayList<>();

  /** The previous turn's {@link #toClose}, closed after this turn's select. */
  private ArrayList<SelectableChannel> closing = new ArrayList<>();

  private final Consumer<SelectionKey> onKey = this::dispatch;
  private volatile boolean stopping;

  /** False once the loop has stopped, normally or because the JVM failed under it. */
  private volatile boolean running = true;

  private volatile @Nullable IOException injectedFailure;
  private final AtomicInteger rebuilds = new AtomicInteger();

  private long now = System.nanoTime();
  private boolean timeTaken;
  private long deadline = Long.MAX_VALUE;
  private long acceptResumeAt = Long.MAX_VALUE;
  private long acceptBackoff;
  private int selectFailures;

  /**
   * Opens the selector and makes the (daemon) thread, not started.
   *
   * @param threadName the thread's name, {@code apns-proxy-...}
   */
  public SelectorLoop(String threadName, LoopHandler handler) throws IOException {
    this.handler = handler;
    this.selector = Selector.open();
    this.thread = new Thread(this::run, threadName);
    this.thread.setDaemon(true);
  }

  /**
   * Rethrows what must not be contained: the JVM running out of memory or failing internally.
   * Everything else - a runtime exception, an assertion, a linkage error, a stack overflow in user
   * code - is one connection's problem.
   */
  public static void rethrowFatal(Throwable t) {
    if (t instanceof VirtualMachineError && !(t instanceof StackOverflowError)) {
      throw (VirtualMachineError) t;
    }
  }

  /** Starts the thread; once. */
  public void start() {
    thread.start();
  }

  /** The loop's thread. */
  public Thread thread() {
    return thread;
  }

  /** Whether the caller runs on the loop thread. */
  public boolean inLoop() {
    return Thread.currentThread() == thread;
  }

  /** The current selector (a new one after a rebuild); loop thread. */
  public Selector selector() {
    return selector;
  }

  /** The time of the last wakeup ({@link System#nanoTime()}); loop thread. */
  public long now() {
    return now;
  }

  /** False once the loop has stopped, normally or because the JVM failed under it; any thread. */
  public boolean isRunning() {
    return running;
  }

  /** Times the selector was rebuilt after a failing {@code select()}; any thread. */
  public int selectorRebuilds() {
    return rebuilds.get();
  }

  /**
   * Registers a listener whose accepted channels go to {@code acceptor}; before {@link #start} or
   * on the loop.
   */
  public void addServer(ServerSocketChannel server, Acceptor acceptor) throws IOException {
    server.configureBlocking(false);
    Listener l = new Listener(server, acceptor);
    l.key =
        server.register(selector, acceptResumeAt == Long.MAX_VALUE ? SelectionKey.OP_ACCEPT : 0, l);
    listeners.add(l);
  }

  /**
   * Registers {@code ch} (non-blocking) with the current selector; loop thread (or before start).
   */
  public SelectionKey register(SelectableChannel ch, int ops, KeyHandler attachment)
      throws ClosedChannelException {
    return ch.register(selector, ops, attachment);
  }

  /**
   * Runs {@code task} on the loop thread, in a later turn; callable from any thread (from the loop
   * thread too: it then runs after the current turn's keys). A task queued after the loop stopped
   * is dropped ({@link Droppable}).
   */
  public void execute(Runnable task) {
    tasks.add(task);
    if (!running) {
      dropTasks(); // stopped meanwhile: nobody will run it
      return;
    }
    // The loop sets awake=false before its last look at the queue; if we win the CAS it may be
    // selecting, so wake
    // it. A wakeup before select() is remembered, so the race costs at most one spurious wakeup.
    if (Thread.currentThread() != thread && awake.compareAndSet(false, true)) {
      selector.wakeup();
    }
  }

  /**
   * Asks the loop to stop; it closes its listeners and calls {@link LoopHandler#stopping}. Any
   * thread.
   */
  public void stop() {
    stopping = true;
    execute(() -> {});
  }

  /** Waits up to {@code wait} for the thread to end; true when it has (or never started). */
  public boolean join(Duration wait) throws InterruptedException {
    if (thread.isAlive() && !inLoop()) {
      thread.join(Math.max(1, wait.toMillis()));
    }
    return !thread.isAlive();
  }

  /** Closes the selector of a loop that was never started. */
  public void discard() throws IOException {
    selector.close();
  }

  /**
   * Makes the loop run {@link LoopHandler#timersDue} once {@code at} ({@link System#nanoTime()})
   * has passed.
   */
  public void schedule(long at) {
    if (at < deadline) {
      deadline = at;
    }
  }

  /** Stops accepting for {@code nanos} (unless paused already); loop thread. */
  public void pauseAccepting(long nanos) {
    if (listeners.isEmpty() || acceptResumeAt != Long.MAX_VALUE) {
      return;
    }
    setAcceptInterest(0);
    acceptResumeAt = System.nanoTime() + nanos;
  }

  /**
   * Stops accepting on one listener and closes it (its socket is released when the next select
   * drops its key); channels it accepted stay. Loop thread.
   */
  public void closeServer(ServerSocketChannel server) {
    listeners.removeIf(l -> l.server == server);
    try {
      server.close();
    } catch (IOException e) {
      LOG.debug("closing {} failed", server, e);
    }
  }

  /** Closes the listeners; loop thread (or before start). */
  public void closeServers() {
    for (Listener l : listeners) {
      try {
        l.server.close();
      } catch (IOException e) {
        LOG.debug("closing {} failed", l.server, e);
      }
    }
    listeners.clear();
  }

  /**
   * Closes {@code ch}. A registered one has its key cancelled now and is closed after the next
   * select, which deregisters it; the peer sees the FIN or RST one turn later. Loop thread.
   */
  public void close(SelectableChannel ch, @Nullable SelectionKey key) {
    if (key != null && key.isValid() && !stopping && running) {
      key.cancel();
      toClose.add(ch);
    } else {
      closeQuietly(ch);
    }
  }

  /** Valid registered keys, listeners included; loop thread. */
  public int validKeys() {
    int n = 0;
    for (SelectionKey k : selector.keys()) {
      if (k.isValid()) {
        n++;
      }
    }
    return n;
  }

  /**
   * For tests: the next {@code select()} throws {@code failure}, as a broken selector would. Any
   * thread.
   */
  public void failNextSelect(IOException failure) {
    injectedFailure = failure;
    execute(() -> {});
  }

  private void run() {
    LOG.debug("{} started", thread.getName());
    try {
      while (!stopping) {
        turn();
      }
    } catch (Throwable t) {
      LOG.error("{} failed; closing its connections", thread.getName(), t);
    } finally {
      shutdown();
    }
  }

  private void turn() {
    awake.set(false);
    ArrayList<SelectableChannel> swap = closing;
    closing = toClose;
    toClose = swap;
    timeTaken = false;
    try {
      select(Math.min(deadline, acceptResumeAt));
      selectFailures = 0;
    } catch (IOException | ClosedSelectorException e) {
      awake.set(true);
      if (stopping) {
        return;
      }
      selectFailed(e);
    }
    awake.set(true);
    takeTime();
    closeAll(closing);
    runTasks();
    if (acceptResumeAt != Long.MAX_VALUE && now - acceptResumeAt >= 0) {
      acceptResumeAt = Long.MAX_VALUE;
      setAcceptInterest(SelectionKey.OP_ACCEPT);
    }
    if (deadline != Long.MAX_VALUE && now - deadline >= 0) {
      deadline = Long.MAX_VALUE;
      long next;
      try {
        next = handler.timersDue(now);
      } catch (RuntimeException | Error e) {
        rethrowFatal(e);
        LOG.warn("{}: timers failed; trying again in a second", thread.getName(), e);
        next = now + MAX_BACKOFF;
      }
      schedule(next);
    }
  }

  private void select(long wake) throws IOException {
    Selector s = selector;
    if (!tasks.isEmpty() || !closing.isEmpty()) {
      s.selectNow(onKey); // channels waiting to be closed must not wait for traffic
    } else if (wake == Long.MAX_VALUE) {
      s.select(onKey);
    } else {
      long ms = (wake - System.nanoTime() + 999_999L) / 1_000_000L;
      if (ms <= 0) {
        s.selectNow(onKey);
      } else {
        s.select(onKey, ms);
      }
    }
    IOException injected = injectedFailure;
    if (injected != null) {
      injectedFailure = null;
      throw injected;
    }
  }

  private void takeTime() {
    if (!timeTaken) {
      timeTaken = true;
      now = System.nanoTime();
      handler.awoke(now);
    }
  }

  private void dispatch(SelectionKey k) {
    takeTime();
    if (!k.isValid() || !(k.attachment() instanceof KeyHandler h)) {
      return; // cancelled by an earlier key of this turn
    }
    try {
      h.onReady(k);
    } catch (RuntimeException | Error e) {
      rethrowFatal(e);
      failed(k, h, e);
    }
  }

  private void failed(SelectionKey k, KeyHandler h, Throwable e) {
    try {
      h.onFailure(k, e);
    } catch (RuntimeException | Error e2) {
      rethrowFatal(e2);
      e2.addSuppressed(e);
      LOG.warn("{}: a key's handler failed; closing its channel", thread.getName(), e2);
      k.cancel();
      closeQuietly(k.channel());
    }
  }

  private void runTasks() {
    Runnable r;
    for (int i = tasks.size(); i > 0 && (r = tasks.poll()) != null; i--) {
      try {
        r.run();
      } catch (RuntimeException | Error e) {
        rethrowFatal(e);
        LOG.warn("{}: task failed", thread.getName(), e);
      }
    }
  }

  /** Drops the queued tasks of a stopped loop, releasing what they own; any thread. */
  private void dropTasks() {
    Runnable r;
    while ((r = tasks.poll()) != null) {
      if (r instanceof Droppable d) {
        try {
          d.dropped();
        } catch (RuntimeException e) {
          LOG.warn("{}: a dropped task failed", thread.getName(), e);
        }
      }
    }
  }

  /**
   * A failing select: rebuild the selector and go on. When select keeps failing, each rebuild waits
   * a little longer (10 ms doubling to 1 s), so a broken system costs no busy loop.
   */
  private void selectFailed(Exception e) {
    selectFailures++;
    if (selectFailures > 1) {
      LockSupport.parkNanos(Math.min(MIN_BACKOFF << Math.min(selectFailures - 2, 20), MAX_BACKOFF));
    }
    LOG.warn("{}: select failed ({}); rebuilding the selector", thread.getName(), e.toString(), e);
    Selector old = selector;
    Selector fresh;
    try {
      fresh = old.provider().openSelector();
    } catch (IOException | RuntimeException open) {
      LOG.warn("{}: cannot open a new selector; trying again", thread.getName(), open);
      return;
    }
    SelectionKey[] keys;
    try {
      keys = old.keys().toArray(new SelectionKey[0]);
    } catch (ClosedSelectorException closed) {
      keys = null;
    }
    selector = fresh; // before anything registers again: producers wake the new one from here on
    rebuilds.incrementAndGet();
    if (keys == null) {
      // closed under us: its keys are gone, so only the listeners, which the loop knows, register
      // again
      for (Listener l : listeners) {
        try {
          l.key =
              l.server.register(
                  fresh, acceptResumeAt == Long.MAX_VALUE ? SelectionKey.OP_ACCEPT : 0, l);
        } catch (IOException | RuntimeException r) {
          LOG.warn("{}: listener {} cannot register again", thread.getName(), l.server, r);
        }
      }
      try {
        handler.selectorLost();
      } catch (RuntimeException | Error r) {
        rethrowFatal(r);
        LOG.warn("{}: closing the connections of a lost selector failed", thread.getName(), r);
      }
    } else {
      for (SelectionKey k : keys) {
        moveKey(k, fresh);
      }
    }
    try {
      old.close();
    } catch (IOException | RuntimeException c) {
      LOG.debug("{}: closing the failed selector failed", thread.getName(), c);
    }
  }

  private void moveKey(SelectionKey k, Selector fresh) {
    if (!k.isValid() || !(k.attachment() instanceof KeyHandler h)) {
      return; // cancelled: its channel is closed or about to be
    }
    SelectionKey replacement;
    try {
      replacement = k.channel().register(fresh, k.interestOps(), h);
    } catch (IOException | RuntimeException e) {
      failed(k, h, e);
      return;
    }
    try {
      h.keyReplaced(k, replacement);
    } catch (RuntimeException | Error e) {
      rethrowFatal(e);
      failed(replacement, h, e);
    }
  }

  private void accept(Listener l) {
    for (int i = 0; i < ACCEPT_BATCH && acceptResumeAt == Long.MAX_VALUE; i++) {
      SocketChannel ch;
      try {
        ch = l.server.accept();
      } catch (IOException e) {
        // EMFILE/ENFILE/ENOBUFS: stop accepting for a while instead of spinning on a ready listener
        acceptBackoff = acceptBackoff == 0 ? MIN_BACKOFF : Math.min(acceptBackoff * 2, MAX_BACKOFF);
        LOG.warn(
            "accept on {} failed ({}); pausing accepts for {} ms",
            l.server,
            e.toString(),
            acceptBackoff / 1_000_000);
        setAcceptInterest(0);
        acceptResumeAt = now + acceptBackoff;
        return;
      }
      if (ch == null) {
        return;
      }
      acceptBackoff = 0;
      try {
        l.acceptor.accepted(ch);
      } catch (RuntimeException | Error e) {
        rethrowFatal(e);
        LOG.warn("{}: taking over an accepted connection failed; closing it", thread.getName(), e);
        closeQuietly(ch);
      }
    }
  }

  private void setAcceptInterest(int ops) {
    for (Listener l : listeners) {
      SelectionKey k = l.key;
      if (k != null && k.isValid()) {
        k.interestOps(ops);
      }
    }
  }

  private static void closeAll(List<SelectableChannel> list) {
    int n = list.size();
    for (int i = 0; i < n; i++) {
      closeQuietly(list.get(i));
    }
    list.clear();
  }

  /** Closes a channel; best effort (the descriptor is released either way). */
  public static void closeQuietly(SelectableChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // closing is best effort; the descriptor is released either way
    }
  }

  private void shutdown() {
    running = false;
    closeServers();
    try {
      runTasks(); // hands over channels dispatched before the stop, so the handler closes them too
    } catch (Throwable t) {
      LOG.warn("{}: a task failed while stopping", thread.getName(), t);
    }
    try {
      handler.stopping();
    } catch (Throwable t) {
      LOG.warn("{}: closing the connections failed", thread.getName(), t);
    }
    dropTasks();
    try {
      selector.close();
    } catch (IOException e) {
      LOG.debug("closing the selector of {} failed", thread.getName(), e);
    }
    closeAll(closing);
    closeAll(toClose);
    LOG.debug("{} stopped", thread.getName());
  }

  /** A listening channel's key handler. */
  private final class Listener implements KeyHandler {
    final ServerSocketChannel server;
    final Acceptor acceptor;
    @Nullable SelectionKey key;

    Listener(ServerSocketChannel server, Acceptor acceptor) {
      this.server = server;
      this.acceptor = acceptor;
    }

    @Override
    public void onReady(SelectionKey k) {
      accept(this);
    }

    @Override
    public void onFailure(SelectionKey k, Throwable failure) {
      // accept() contains its own failures; anything else here is a bug: pause instead of spinning
      // on it
      LOG.warn("{}: accepting on {} failed; pausing accepts", thread.getName(), server, failure);
      acceptBackoff = acceptBackoff == 0 ? MIN_BACKOFF : Math.min(acceptBackoff * 2, MAX_BACKOFF);
      acceptResumeAt = Long.MAX_VALUE;
      pauseAccepting(acceptBackoff);
    }

    @Override
    public void keyReplaced(SelectionKey old, SelectionKey replacement) {
      key = replacement;
    }
  }
}
