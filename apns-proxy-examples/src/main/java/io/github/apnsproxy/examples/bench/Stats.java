// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Medians and percentiles over the repeats and the latency samples of one measurement. Not
 * thread-safe.
 */
final class Stats {
  private Stats() {}

  /**
   * The median of the finite values, NaN when there are none; the mean of the middle two for an
   * even count.
   */
  static double median(List<Double> values) {
    double[] v =
        values.stream().filter(Stats::finite).mapToDouble(Double::doubleValue).sorted().toArray();
    if (v.length == 0) {
      return Double.NaN;
    }
    int m = v.length / 2;
    return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  /**
   * The pairwise ratios {@code a[i] / b[i]} over the repeats both have, skipping non-finite ones.
   */
  static List<Double> ratios(List<Double> a, List<Double> b) {
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      double r = a.get(i) / b.get(i);
      if (finite(a.get(i)) && finite(b.get(i)) && b.get(i) != 0 && finite(r)) {
        out.add(r);
      }
    }
    return out;
  }

  /**
   * The pairwise differences {@code a[i] - b[i]} over the repeats both have, skipping non-finite
   * ones.
   */
  static List<Double> differences(List<Double> a, List<Double> b) {
    List<Double> out = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      double d = a.get(i) - b.get(i);
      if (finite(d)) {
        out.add(d);
      }
    }
    return out;
  }

  static boolean finite(double d) {
    return !Double.isNaN(d) && !Double.isInfinite(d);
  }

  /**
   * Latency samples in nanoseconds, kept up to a cap (later samples are counted but not kept, so a
   * runaway measurement cannot exhaust memory). Percentiles use the nearest-rank method.
   */
  static final class Latencies {
    private long[] samples;
    private final int cap;
    private int kept;
    private long count;
    private boolean sorted;

    Latencies(int initial, int cap) {
      this.samples = new long[Math.max(16, Math.min(initial, cap))];
      this.cap = cap;
    }

    Latencies() {
      this(1 << 16, 4 << 20);
    }

    void record(long nanos) {
      count++;
      if (kept == samples.length) {
        if (kept >= cap) {
          return;
        }
        samples = Arrays.copyOf(samples, Math.min(cap, samples.length * 2));
      }
      samples[kept++] = nanos;
      sorted = false;
    }

    long count() {
      return count;
    }

    /** The p-th percentile (0 < p <= 100) in nanoseconds by nearest rank; NaN without samples. */
    double percentileNanos(double p) {
      if (kept == 0) {
        return Double.NaN;
      }
      if (!sorted) {
        Arrays.sort(samples, 0, kept);
        sorted = true;
      }
      int rank = (int) Math.ceil(p / 100.0 * kept);
      return samples[Math.max(0, Math.min(kept - 1, rank - 1))];
    }

    double percentileMicros(double p) {
      return percentileNanos(p) / 1_000.0;
    }

    double percentileMillis(double p) {
      return percentileNanos(p) / 1_000_000.0;
    }
  }
}
