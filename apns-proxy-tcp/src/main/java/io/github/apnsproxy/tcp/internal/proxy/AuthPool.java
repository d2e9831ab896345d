// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The default executor of the slow password checks: a few daemon threads named {@code
 * apns-proxy-auth-N} that end after 30 seconds without work, and a bounded queue; a check over
 * capacity is refused with {@link java.util.concurrent.RejectedExecutionException}. Needs no
 * closing.
 */
public final class AuthPool {
  /** Threads of the default pool. */
  public static final int THREADS = 2;

  /** Checks that may wait in the default pool's queue. */
  public static final int QUEUE = 64;

  private static final AtomicInteger NUMBER = new AtomicInteger();

  private AuthPool() {}

  /** A new default pool. */
  public static Executor create() {
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            THREADS,
            THREADS,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(QUEUE),
            r -> {
              Thread t = new Thread(r, "apns-proxy-auth-" + NUMBER.incrementAndGet());
              t.setDaemon(true);
              return t;
            },
            new ThreadPoolExecutor.AbortPolicy());
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }
}
