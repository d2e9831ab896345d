// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4) for tests: every line
 * must be a {@code # HELP}, a {@code # TYPE} (once per family, before its samples), another
 * comment, or a sample {@code name{label="value",...} value} whose name belongs to the declared
 * family (histograms: {@code _bucket} with an {@code le} label, {@code _sum}, {@code _count};
 * counters: {@code _total}). Anything else throws, naming the line.
 */
final class ExpositionParser {
  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern SAMPLE =
      Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})? ([^ ]+)( -?[0-9]+)?");
  private static final Pattern LABEL =
      Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

  /** One sample line. */
  record Sample(String name, Map<String, String> labels, double value) {}

  /** One metric family: its TYPE and its samples. */
  record Family(String name, String type, String help, List<Sample> samples) {
    /** The value of the sample named {@code sample} with exactly these labels (pairs), or fails. */
    double value(String sample, String... labelPairs) {
      Map<String, String> want = new LinkedHashMap<>();
      for (int i = 0; i + 1 < labelPairs.length; i += 2) {
        want.put(labelPairs[i], labelPairs[i + 1]);
      }
      return samples.stream()
          .filter(s -> s.name.equals(sample) && s.labels.equals(want))
          .findFirst()
          .orElseThrow(() -> new AssertionError("no sample " + sample + want + " in " + samples))
          .value;
    }

    /** The sum of every sample named {@code sample}. */
    double sum(String sample) {
      return samples.stream().filter(s -> s.name.equals(sample)).mapToDouble(Sample::value).sum();
    }
  }

  private ExpositionParser() {}

  /** Parses a whole scrape into families by name. */
  static Map<String, Family> parse(String text) {
    Map<String, Family> families = new LinkedHashMap<>();
    Map<String, String> help = new LinkedHashMap<>();
    Family current = null;
    int lineNo = 0;
    for (String line : text.split("\n", -1)) {
      lineNo++;
      if (line.isEmpty()) {
        continue;
      }
      if (line.startsWith("# HELP ")) {
        String[] p = line.substring(7).split(" ", 2);
        help.put(p[0], p.length > 1 ? p[1] : "");
        continue;
      }
      if (line.startsWith("# TYPE ")) {
        String[] p = line.substring(7).split(" ");
        if (p.length != 2
            || !NAME.matcher(p[0]).matches()
            || !p[1].matches("counter|gauge|histogram|summary|untyped")) {
          throw new IllegalArgumentException("line " + lineNo + ": bad TYPE: " + line);
        }
        if (families.containsKey(p[0])) {
          throw new IllegalArgumentException("line " + lineNo + ": second TYPE for " + p[0]);
        }
        current = new Family(p[0], p[1], help.getOrDefault(p[0], ""), new ArrayList<>());
        families.put(p[0], current);
        continue;
      }
      if (line.startsWith("#")) {
        continue;
      }
      Matcher m = SAMPLE.matcher(line);
      if (!m.matches()) {
        throw new IllegalArgumentException("line " + lineNo + ": not a sample: " + line);
      }
      String name = m.group(1);
      Map<String, String> labels = new LinkedHashMap<>();
      if (m.group(3) != null && !m.group(3).isEmpty()) {
        Matcher l = LABEL.matcher(m.group(3));
        int end = 0;
        while (l.find() && l.start() == end) {
          labels.put(
              l.group(1),
              l.group(2).replace("\\\"", "\"").replace("\\n", "\n").replace("\\\\", "\\"));
          end = l.end();
        }
        if (end != m.group(3).length()) {
          throw new IllegalArgumentException("line " + lineNo + ": bad labels: " + line);
        }
      }
      double value = parseValue(m.group(4), lineNo);
      if (current == null || !belongs(name, current)) {
        throw new IllegalArgumentException(
            "line " + lineNo + ": sample " + name + " outside its family's TYPE");
      }
      if (name.endsWith("_bucket") && !labels.containsKey("le")) {
        throw new IllegalArgumentException("line " + lineNo + ": bucket without le: " + line);
      }
      current.samples.add(new Sample(name, labels, value));
    }
    return families;
  }

  private static boolean belongs(String sample, Family f) {
    switch (f.type) {
      case "counter":
        return sample.equals(f.name + "_total")
            || sample.equals(f.name)
            || sample.equals(f.name + "_created");
      case "histogram":
        return sample.equals(f.name + "_bucket")
            || sample.equals(f.name + "_sum")
            || sample.equals(f.name + "_count")
            || sample.equals(f.name + "_created");
      case "summary":
        return sample.equals(f.name)
            || sample.equals(f.name + "_sum")
            || sample.equals(f.name + "_count")
            || sample.equals(f.name + "_created");
      default:
        return sample.equals(f.name);
    }
  }

  private static double parseValue(String v, int lineNo) {
    switch (v) {
      case "+Inf":
        return Double.POSITIVE_INFINITY;
      case "-Inf":
        return Double.NEGATIVE_INFINITY;
      case "NaN":
        return Double.NaN;
      default:
        try {
          return Double.parseDouble(v);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("line " + lineNo + ": bad value " + v, e);
        }
    }
  }
}
