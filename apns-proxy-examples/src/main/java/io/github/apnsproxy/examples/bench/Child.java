// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
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
   * Starts {@code command}; lines go to {@code log}, the first one starting with {@code marker}
   * means ready.
   */
  static Child start(String name, List<String> command, Path log, String marker)
      throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    Child c = new Child(name, p, log);
    synchronized (LIVE) {
      LIVE.add(c);
    }
    Thread pump = new Thread(() -> c.pump(marker), "apns-proxy-bench-log-" + name);
    pump.setDaemon(true);
    pump.start();
    return c;
  }

  private void pump(String marker) {
    try (BufferedReader r =
            new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        PrintStream out =
            new PrintStream(Files.newOutputStream(log), true, StandardCharsets.UTF_8)) {
      String line;
      while ((line = r.readLine()) != null) {
        out.println(line);
        if (readyLine.get() == null && line.startsWith(marker)) {
          readyLine.set(line);
          ready.countDown();
        }
      }
    } catch (IOException e) {
      // the child's output closed with it; what it wrote is in the log
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
