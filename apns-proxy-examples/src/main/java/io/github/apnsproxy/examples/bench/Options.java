// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples.bench;

import io.github.apnsproxy.examples.JvmDefaults;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The bench's command line, parsed and checked; {@link #parse} throws {@link
 * IllegalArgumentException}.
 */
final class Options {
  static final List<String> FIGURES =
      List.of("bulk", "pingpong", "setup", "idle", "dns", "sni", "egress", "accesslog", "soak");

  /**
   * The figures run without {@code --only}: all but the soak, which runs for minutes on its own.
   */
  static final List<String> DEFAULT_FIGURES =
      List.of("bulk", "pingpong", "setup", "idle", "dns", "sni", "egress", "accesslog");

  static final String DIRECT = "direct";
  static final String PROXY = "apns-proxy";

  static final String USAGE =
      """
      Usage: apns-proxy bench [options]
        --quick                  smoke test: 1 repeat, short runs, 1,000 idle splices (about 1-2 min)
        --json FILE              where to write the result (default bench-result.json)
        --only LIST              figures to run: bulk,pingpong,setup,idle,dns,sni,egress,accesslog,soak
                                 (default all but soak)
        --target LIST            targets: direct,apns-proxy and peer names (default: all known); --targets too
        --repeats N              repeats per figure (default 3; --quick 1); medians are reported
        --duration S             seconds measured per run (default 3; --quick 1), after a warm-up
        --conns N                concurrent ping-pong connections (default 1000; --quick 200)
        --in-flight N            connection setups in flight (default 64)
        --idle-conns N           idle splices (default 9000; --quick 1000)
        --idle-seconds S         keepalive phase of the idle test (default 30; --quick 6)
        --idle-interval S        seconds between keepalives on one splice (default 10; --quick 2)
        --dns-rate N             queries/s of the low-load DNS run (default 1000)
        --trickle-clients N      sni: clients sending their ClientHello one byte per second (default 5000)
        --trickle-seconds S      sni: how long they trickle (default 12; --quick 5)
        --soak-seconds S         soak: churn duration (default 600; --quick 40)
        --couriers K             courier names and upstream servers (default 8)
        --subnet CIDR            the proxy's virtual subnet (default 127.100.110.0/24; the sni, soak and egress
                                 proxies take the next three /24s)
        --upstream-base A.B.C    upstream servers at A.B.C.1..K (default 127.0.11)
        --port P                 courier port (default 5223)
        --jar FILE               the apns-proxy jar to run (default: this jar)
        --warmup S               unmeasured warm-up before every measured run (default 3; --quick 0.3)
        --proxy-jvm-opts "..."   JVM options of the proxy (default: the runnable jar's documented options,
                                 JvmDefaults.OPTIONS, as the README and the systemd unit run it)
        --proxy-java FILE        the java launcher of the proxy (default: the bench's own)
        --proxy-set KEY=VALUE    override a generated proxy config key (repeatable)
        --proxy-cpu C            CPU the proxy is pinned to (default 0)
        --load-cpu C             CPU the bench and upstream servers are pinned to (default 1)
        --no-pin                 do not pin anything
        --peer NAME,pid=P[+P..],subnet=CIDR
                                 a peer proxy (HAProxy, nginx) already serving the plan's courier map over
                                 CIDR: CPU and RSS are read from its PIDs (repeatable)
        --dns-peer NAME,pid=P,addr=HOST:PORT
                                 a peer DNS server answering the couriers' A records (repeatable)
        --emit-map CIDR          print the courier map for CIDR and exit: FRONT:PORT UPSTREAM:PORT NAME lines
        --keep                   keep the generated config and logs
      """;

  boolean quick;
  Path json = Path.of("bench-result.json");
  Set<String> only = new LinkedHashSet<>(DEFAULT_FIGURES);
  List<String> targets = new ArrayList<>();
  int repeats = -1;
  double duration = -1;
  double warmup = -1;
  int conns = -1;
  int inFlight = 64;
  int idleConns = -1;
  double idleSeconds = -1;
  double idleInterval = -1;
  double quietSeconds = -1;
  int dnsRate = 1000;
  int trickleClients = 5_000;
  double trickleSeconds = -1;
  double soakSeconds = -1;
  int couriers = 8;
  String subnet = "127.100.110.0/24";
  String upstreamBase = "127.0.11";
  int port = 5223;
  Path jar;

  /**
   * The proxy is run as users run it: with the options the README and the systemd unit give the
   * jar.
   */
  static final List<String> DEFAULT_PROXY_JVM_OPTS = JvmDefaults.OPTIONS;

  List<String> proxyJvmOpts = DEFAULT_PROXY_JVM_OPTS;
  String proxyJava;
  Map<String, String> proxySet = new LinkedHashMap<>();
  int proxyCpu = 0;
  int loadCpu = 1;
  boolean pin = true;
  List<Peer> peers = new ArrayList<>();
  List<DnsPeer> dnsPeers = new ArrayList<>();
  String emitMap;
  boolean keep;

  /** A TCP peer: serves the same courier map as the proxy, over its own virtual subnet. */
  record Peer(String name, List<Long> pids, String subnet) {}

  /** A DNS peer answering the couriers' A records at {@code address}. */
  record DnsPeer(String name, List<Long> pids, InetSocketAddress address) {}

  static Options parse(String[] args) {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        v = a.substring(eq + 1);
        a = a.substring(0, eq);
      }
      switch (a) {
        case "--quick" -> o.quick = true;
        case "--no-pin" -> o.pin = false;
        case "--keep" -> o.keep = true;
        default -> {
          if (v == null) {
            if (i + 1 >= args.length) {
              throw new IllegalArgumentException("option " + a + " needs a value");
            }
            v = args[++i];
          }
          o.option(a, v);
        }
      }
    }
    o.defaults();
    return o;
  }

  private void option(String name, String v) {
    switch (name) {
      case "--json" -> json = Path.of(v);
      case "--only" -> {
        only = new LinkedHashSet<>();
        for (String f : list(v)) {
          if (!FIGURES.contains(f)) {
            throw new IllegalArgumentException(
                "--only " + f + " (expected some of " + String.join(",", FIGURES) + ")");
          }
          only.add(f);
        }
      }
      case "--target", "--targets" -> targets.addAll(list(v));
      case "--repeats" -> repeats = intValue(name, v, 1, 100);
      case "--duration" -> duration = seconds(name, v);
      case "--warmup" -> warmup = seconds(name, v);
      case "--conns" -> conns = intValue(name, v, 1, 9_000);
      case "--in-flight" -> inFlight = intValue(name, v, 1, 4_096);
      case "--idle-conns" -> idleConns = intValue(name, v, 1, 9_900);
      case "--idle-seconds" -> idleSeconds = seconds(name, v);
      case "--idle-interval" -> idleInterval = seconds(name, v);
      case "--quiet-seconds" -> quietSeconds = seconds(name, v);
      case "--dns-rate" -> dnsRate = intValue(name, v, 1, 1_000_000);
      case "--trickle-clients" -> trickleClients = intValue(name, v, 1, 9_000);
      case "--trickle-seconds" -> trickleSeconds = seconds(name, v);
      case "--soak-seconds" -> soakSeconds = seconds(name, v);
      case "--couriers" -> couriers = intValue(name, v, 1, 200);
      case "--subnet" -> subnet = loopbackCidr(name, v);
      case "--upstream-base" -> {
        upstreamBase = v;
        loopback(name, v + ".1");
      }
      case "--port" -> port = intValue(name, v, 1024, 65535);
      case "--jar" -> jar = Path.of(v);
      case "--proxy-java" -> proxyJava = v;
      case "--proxy-jvm-opts" ->
          proxyJvmOpts = List.of(v.trim().isEmpty() ? new String[0] : v.trim().split("\\s+"));
      case "--proxy-set" -> {
        int eq = v.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--proxy-set " + v + " (expected KEY=VALUE)");
        }
        proxySet.put(v.substring(0, eq).trim(), v.substring(eq + 1).trim());
      }
      case "--proxy-cpu" -> proxyCpu = intValue(name, v, 0, 1023);
      case "--load-cpu" -> loadCpu = intValue(name, v, 0, 1023);
      case "--peer" -> peers.add(peer(v));
      case "--dns-peer" -> dnsPeers.add(dnsPeer(v));
      case "--emit-map" -> emitMap = loopbackCidr(name, v);
      default -> throw new IllegalArgumentException("unknown option '" + name + "'");
    }
  }

  private void defaults() {
    if (repeats < 0) {
      repeats = quick ? 1 : 3;
    }
    if (duration < 0) {
      duration = quick ? 1 : 3;
    }
    if (warmup < 0) {
      warmup = quick ? 0.3 : 3;
    }
    if (conns < 0) {
      conns = quick ? 200 : 1_000;
    }
    if (idleConns < 0) {
      idleConns = quick ? 1_000 : 9_000;
    }
    if (idleSeconds < 0) {
      idleSeconds = quick ? 6 : 30;
    }
    if (idleInterval < 0) {
      idleInterval = quick ? 2 : 10;
    }
    if (trickleSeconds < 0) {
      trickleSeconds = quick ? 5 : 12;
    }
    if (soakSeconds < 0) {
      soakSeconds = quick ? 40 : 600;
    }
    if (quietSeconds < 0) {
      quietSeconds = quick ? 2 : 5;
    }
    Set<String> names = new LinkedHashSet<>(List.of(DIRECT, PROXY));
    peers.forEach(p -> names.add(p.name()));
    dnsPeers.forEach(p -> names.add(p.name()));
    if (targets.isEmpty()) {
      targets.addAll(names);
    }
    for (String t : targets) {
      if (!names.contains(t) && emitMap == null) {
        throw new IllegalArgumentException(
            "--target "
                + t
                + " (expected one of "
                + String.join(",", names)
                + "; a peer needs --peer NAME,pid=...,subnet=... or --dns-peer NAME,pid=...,addr=...)");
      }
    }
  }

  private static Peer peer(String v) {
    Map<String, String> kv = keyValues("--peer", v, Set.of("pid", "subnet"));
    if (!kv.containsKey("pid") || !kv.containsKey("subnet")) {
      throw new IllegalArgumentException(
          "--peer " + v + " (expected NAME,pid=PID[+PID...],subnet=CIDR)");
    }
    return new Peer(kv.get(""), pids(v, kv.get("pid")), loopbackCidr("--peer", kv.get("subnet")));
  }

  private static DnsPeer dnsPeer(String v) {
    Map<String, String> kv = keyValues("--dns-peer", v, Set.of("pid", "addr"));
    if (!kv.containsKey("pid") || !kv.containsKey("addr")) {
      throw new IllegalArgumentException(
          "--dns-peer " + v + " (expected NAME,pid=PID,addr=HOST:PORT)");
    }
    InetSocketAddress addr = socketAddress(kv.get("addr"));
    loopback("--dns-peer", addr.getAddress().getHostAddress());
    return new DnsPeer(kv.get(""), pids(v, kv.get("pid")), addr);
  }

  private static Map<String, String> keyValues(String option, String v, Set<String> keys) {
    List<String> parts = list(v);
    Map<String, String> kv = new LinkedHashMap<>();
    if (parts.isEmpty() || parts.get(0).contains("=") || parts.get(0).isEmpty()) {
      throw new IllegalArgumentException(option + " " + v + " (expected a name first)");
    }
    kv.put("", parts.get(0));
    for (String p : parts.subList(1, parts.size())) {
      int eq = p.indexOf('=');
      if (eq <= 0 || !keys.contains(p.substring(0, eq))) {
        throw new IllegalArgumentException(
            option + " " + v + ": '" + p + "' (expected one of " + keys + " as KEY=VALUE)");
      }
      kv.put(p.substring(0, eq), p.substring(eq + 1));
    }
    return kv;
  }

  private static List<Long> pids(String v, String pids) {
    List<Long> out = new ArrayList<>();
    for (String p : pids.split("\\+")) {
      try {
        out.add(Long.parseLong(p.trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("pid '" + p + "' in " + v + " (expected a number)", e);
      }
    }
    return out;
  }

  static List<String> list(String v) {
    List<String> out = new ArrayList<>();
    for (String s : v.split(",")) {
      if (!s.isBlank()) {
        out.add(s.trim());
      }
    }
    return out;
  }

  private static int intValue(String name, String v, int min, int max) {
    try {
      int n = Integer.parseInt(v.trim());
      if (n < min || n > max) {
        throw new IllegalArgumentException(name + " " + v + " (expected " + min + ".." + max + ")");
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " " + v + " (expected a whole number)", e);
    }
  }

  private static double seconds(String name, String v) {
    try {
      double d = Double.parseDouble(v.trim());
      if (!(d > 0 && d <= 3_600)) {
        throw new IllegalArgumentException(name + " " + v + " (expected seconds, 0 < s <= 3600)");
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " " + v + " (expected seconds)", e);
    }
  }

  /** Checks that a CIDR is inside 127.0.0.0/8: the bench never sends to any other address. */
  private static String loopbackCidr(String name, String v) {
    int slash = v.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException(
          name + " " + v + " (expected a CIDR like 127.100.110.0/24)");
    }
    loopback(name, v.substring(0, slash));
    return v.trim();
  }

  private static void loopback(String name, String address) {
    try {
      InetAddress a = InetAddress.getByName(address.trim());
      if (!(a.getAddress().length == 4 && (a.getAddress()[0] & 0xff) == 127)) {
        throw new IllegalArgumentException(
            name + " " + address + " (expected a loopback address in 127.0.0.0/8)");
      }
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(name + " " + address + " (expected an IPv4 literal)", e);
    }
  }

  /** Parses {@code HOST:PORT} with an IPv4 literal host. */
  static InetSocketAddress socketAddress(String v) {
    int colon = v.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("address " + v + " (expected HOST:PORT)");
    }
    try {
      return new InetSocketAddress(
          InetAddress.getByName(v.substring(0, colon)), Integer.parseInt(v.substring(colon + 1)));
    } catch (UnknownHostException | NumberFormatException e) {
      throw new IllegalArgumentException(
          "address " + v + " (expected HOST:PORT with an IP literal)", e);
    }
  }
}
