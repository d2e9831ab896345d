// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A child process of the bench (the proxy JVM, the upstream servers JVM): started with its output
 * going to a log file, ready when a line starting with a marker appears, stopped with SIGTERM then
 * SIGKILL. A JVM shutdown hook kills every child still running, so none outlives the bench (only
 * SIGKILL of the bench itself escapes that; the upstream servers also exit when their standard
 * input closes).
 */
final class Child implements AutoCloseable {
  private static final List<Child> LIVE = new ArrayList<>();

  static {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  List<Child> all;
                  synchronized (LIVE) {
                    all = new ArrayList<>(LIVE);
                  }
                  all.forEach(c -> c.stop(Duration.ofSeconds(2)));
                },
                "apns-proxy-bench-cleanup"));
  }

  final String name;
  final Process process;
  final Path log;
  private final CountDownLatch ready = new CountDownLatch(1);
  private final AtomicReference<String> readyLine = new AtomicReference<>();

  private Child(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /**
   * Starts {@code command} with its output (stdout and stderr) going straight to {@code log}, as
   * {@code java -jar ... > file} would: the child's log lines (the access log) cost the child a
   * write each and nothing on the load core, where a pipe read by the bench would wake a bench
   * thread per line. Ready when a whole line starting with {@code marker} is in the file.
   */
  static Child start(String name, List<String> command, Path log, String marker)
      throws IOException {
    Files.deleteIfExists(log);
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()))
            .start();
    Child c = new Child(name, p, log);
    synchronized (LIVE) {
      LIVE.add(c);
    }
    Thread watch = new Thread(() -> c.watch(marker), "apns-proxy-bench-ready-" + name);
    watch.setDaemon(true);
    watch.start();
    return c;
  }

  /** Polls the log until a whole line starting with {@code marker} is there or the child ended. */
  private void watch(String marker) {
    try {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
      while (System.nanoTime() < deadline) {
        boolean alive = process.isAlive();
        String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
        int from = 0;
        for (int nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
          String line = text.substring(from, nl);
          from = nl + 1;
          if (line.startsWith(marker)) {
            readyLine.set(line);
            return;
          }
        }
        if (!alive) {
          return;
        }
        Thread.sleep(50);
      }
    } catch (IOException e) {
      // unreadable log: awaitReady reports the child as not ready, with what the log holds
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      ready.countDown();
    }
  }

  /**
   * Waits for the ready line; throws with the log's tail when the child died or the time ran out.
   */
  String awaitReady(Duration timeout) throws IOException, InterruptedException {
    if (!ready.await(timeout.toMillis(), TimeUnit.MILLISECONDS) || readyLine.get() == null) {
      String why =
          process.isAlive()
              ? "not ready after " + timeout.toSeconds() + " s"
              : "exited with " + process.exitValue();
      stop(Duration.ofSeconds(2));
      throw new IOException(name + " " + why + "; log " + log + ":\n" + tail(20));
    }
    return readyLine.get();
  }

  /** The standard input of the child (the upstream servers exit when it closes). */
  OutputStream stdin() {
    return process.getOutputStream();
  }

  long pid() {
    return process.pid();
  }

  /** The last {@code lines} lines of the log. */
  String tail(int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** SIGTERM, then SIGKILL after {@code grace}; bounded. */
  void stop(Duration grace) {
    try {
      process.getOutputStream().close();
    } catch (IOException e) {
      // closing stdin is only a hint to exit; SIGTERM follows
    }
    process.destroy();
    try {
      if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    synchronized (LIVE) {
      LIVE.remove(this);
    }
  }

  @Override
  public void close() {
    stop(Duration.ofSeconds(5));
  }
}
