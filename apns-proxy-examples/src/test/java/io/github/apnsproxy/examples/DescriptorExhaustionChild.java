// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The child process of {@link MetricsEndpointIT#acceptPausesWhileTheProcessIsOutOfDescriptors}:
 * runs a node from the config file in {@code args[0]}, prints {@code port N} (the metrics port),
 * then follows commands on stdin: {@code exhaust} opens {@code /dev/null} until the process is out
 * of descriptors; {@code release} prints the CPU time the metrics threads used meanwhile and closes
 * the files; {@code quit} ends.
 */
public final class DescriptorExhaustionChild {
  private DescriptorExhaustionChild() {}

  public static void main(String[] args) throws Exception {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    List<FileInputStream> held = new ArrayList<>();
    try (ProxyNode node = ProxyNode.start(ProxyConfig.load(Path.of(args[0])))) {
      System.out.println("port " + node.metricsAddress().orElseThrow().getPort());
      long cpuBefore = metricsCpu(threads);
      long wallBefore = System.nanoTime();
      for (String command; (command = in.readLine()) != null && !command.equals("quit"); ) {
        if (command.equals("exhaust")) {
          cpuBefore = metricsCpu(threads);
          wallBefore = System.nanoTime();
          try {
            while (true) {
              held.add(new FileInputStream("/dev/null"));
            }
          } catch (IOException e) {
            // out of descriptors: what this child is for
          }
          System.out.println("exhausted " + held.size());
        } else if (command.equals("release")) {
          for (FileInputStream f : held) {
            f.close();
          }
          held.clear();
          System.out.println(
              "metrics-cpu-ms "
                  + (metricsCpu(threads) - cpuBefore) / 1_000_000
                  + " of wall-ms "
                  + (System.nanoTime() - wallBefore) / 1_000_000);
        }
      }
    }
  }

  /**
   * CPU nanos of every thread of the metrics endpoint (ours, or the JDK HTTP server's dispatcher).
   */
  private static long metricsCpu(ThreadMXBean threads) {
    long sum = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("apns-proxy-metrics")
          || t.getName().startsWith("HTTP-Dispatcher")) {
        sum += Math.max(0, threads.getThreadCpuTime(t.getId()));
      }
    }
    return sum;
  }
}
