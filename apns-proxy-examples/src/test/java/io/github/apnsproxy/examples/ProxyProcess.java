// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The runnable proxy in a JVM of its own, started as operators start it ({@code run --config
 * FILE}), for the ITs that send it signals or read its logs.
 */
final class ProxyProcess {
  private ProxyProcess() {}

  /** Starts {@code run --config config} with the test class path; stderr goes to {@code stderr}. */
  static Process start(Path config, Path stderr, String... jvmOptions) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of(jvmOptions));
    cmd.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            ApnsProxy.class.getName(),
            "run",
            "--config",
            config.toString()));
    return new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
  }

  /**
   * The first line the process prints (its "apns-proxy running: ..." line), within {@code wait}.
   */
  static String firstLine(Process p, Duration wait) throws Exception {
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    return CompletableFuture.supplyAsync(
            () -> {
              try {
                return String.valueOf(out.readLine());
              } catch (IOException e) {
                return e.toString();
              }
            })
        .get(wait.toMillis(), TimeUnit.MILLISECONDS);
  }
}
