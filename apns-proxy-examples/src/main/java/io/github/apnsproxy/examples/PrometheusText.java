// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.util.HashSet;
import java.util.Set;

/** Writes the Prometheus text exposition format: HELP and TYPE once per metric family, then samples. */
final class PrometheusText {
  private final StringBuilder out = new StringBuilder(4096);
  private final Set<String> declared = new HashSet<>();

  /** Adds a sample of a counter ({@code _total} names) or gauge, with optional label pairs. */
  PrometheusText sample(String name, String type, String help, double value, String... labels) {
    if (declared.add(name)) {
      out.append("# HELP ").append(name).append(' ').append(help).append('\n');
      out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }
    out.append(name);
    if (labels.length > 0) {
      out.append('{');
      for (int i = 0; i + 1 < labels.length; i += 2) {
        if (i > 0) {
          out.append(',');
        }
        out.append(labels[i]).append("=\"").append(escape(labels[i + 1])).append('"');
      }
      out.append('}');
    }
    out.append(' ');
    if (value == Math.rint(value) && Math.abs(value) < 1e15) {
      out.append((long) value);
    } else {
      out.append(value);
    }
    out.append('\n');
    return this;
  }

  PrometheusText counter(String name, String help, double value, String... labels) {
    return sample(name, "counter", help, value, labels);
  }

  PrometheusText gauge(String name, String help, double value, String... labels) {
    return sample(name, "gauge", help, value, labels);
  }

  private static String escape(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  @Override
  public String toString() {
    return out.toString();
  }
}
