// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.util.List;

/**
 * The JVM options the runnable jar is documented to run with: the README's launcher line and the
 * systemd unit ({@code apns-proxy-examples/packaging/apns-proxy.service}) give exactly these, and
 * {@code bench} runs the proxy with them, so the figures it prints are the ones users get. Measured
 * choices, see {@code bench/README.md}.
 */
public final class JvmDefaults {
  /**
   * The options, in order, as they appear on the documented command line: the serial collector
   * (cheaper write barriers than G1 and no concurrent GC threads; a proxy's live data is a few KiB
   * per connection, so its pauses are short), a 16 MiB initial heap (a small young generation that
   * is reused instead of ever more of a large one being touched, so resident memory follows the
   * live data; the heap still grows on demand up to the JVM's default maximum), and exit on an
   * out-of-memory error so that the service manager restarts a clean process.
   */
  public static final List<String> OPTIONS =
      List.of("-XX:+UseSerialGC", "-Xms16m", "-XX:+ExitOnOutOfMemoryError");

  private JvmDefaults() {}

  /** The options joined by single spaces, as written in the README and the systemd unit. */
  public static String line() {
    return String.join(" ", OPTIONS);
  }
}
