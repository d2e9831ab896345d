// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.tcp.Egress;
import io.github.apnsproxy.tcp.EgressProxy;
import io.github.apnsproxy.tcp.EgressProxyException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.jspecify.annotations.Nullable;

/**
 * Proves the path to Apple from this host, through the configured egress: for each kind of upstream
 * (a courier of each variant and environment, init, the provider API) name resolution (direct) or
 * the proxy's CONNECT, the TCP connect, and a TLS handshake with the server name a device sends,
 * verifying the chain and the name against a trust store. Each failure names its cause, telling
 * apart the faults operators hit most: the proxy refusing the port, DNS not resolving, TLS
 * intercepted. Thread-safe; {@link #run} blocks (bounded by the timeout per host, hosts in parallel
 * on threads named {@code apns-proxy-probe-N}); {@link #cached} runs at most once per interval, for
 * {@code /healthz?deep=1}.
 */
public final class Probe {

  /** One host to check: {@code host:port} reached as the proxy would, TLS with {@code sni}. */
  public record Target(String label, String host, int port, String sni) {
    public Target {
      Objects.requireNonNull(label, "label");
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(sni, "sni");
    }
  }

  /**
   * The outcome for one target; {@code failedStep} is empty when it passed. Times in milliseconds
   * (-1: not run).
   */
  public record Result(
      Target target,
      String failedStep,
      String cause,
      long resolveMs,
      long connectMs,
      long tlsMs,
      String via) {
    public boolean passed() {
      return failedStep.isEmpty();
    }
  }

  private final List<Target> targets;
  private final Egress egress;
  private final UpstreamResolver resolver;
  private final SSLContext tls;
  private final Duration timeout;
  private final Object cacheLock = new Object();
  private @Nullable List<Result> last;
  private long lastAt;

  /**
   * A probe of {@code targets} through {@code egress} ({@code resolver} resolves names for direct
   * egress), verifying certificates with {@code trust} (null: the JDK's default trust store), each
   * step bounded by {@code timeout}.
   */
  public Probe(
      List<Target> targets,
      Egress egress,
      UpstreamResolver resolver,
      @Nullable KeyStore trust,
      Duration timeout)
      throws GeneralSecurityException {
    this.targets = List.copyOf(targets);
    this.egress = Objects.requireNonNull(egress, "egress");
    this.resolver = Objects.requireNonNull(resolver, "resolver");
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    X509TrustManager base = null;
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509TrustManager x) {
        base = x;
      }
    }
    if (base == null) {
      throw new GeneralSecurityException("no X509 trust manager");
    }
    this.tls = SSLContext.getInstance("TLS");
    this.tls.init(null, new TrustManager[] {new Recording(base)}, null);
  }

  /**
   * The hosts a plan serves, one per kind: a courier of each variant and environment (the number 1,
   * or 0 when the plan has no more), init and the provider API of each environment, on the first
   * port the plan serves for each.
   */
  public static List<Target> targetsFor(AddressPlan plan) {
    Set<String> seen = new LinkedHashSet<>();
    List<Target> out = new ArrayList<>();
    for (ApnsHost h : plan.hosts()) {
      for (ApnsHost u : plan.upstreamsFor(h)) {
        String key = u.kind() + " " + u.environment() + " " + u.variant();
        if (!seen.add(key)) {
          continue;
        }
        ApnsHost pick =
            u.isCourier()
                ? ApnsHost.courier(u.environment(), u.variant(), Math.min(1, plan.courierCount()))
                : u;
        List<Integer> ports = plan.ports(u.kind());
        int port = ports.isEmpty() ? 443 : ports.get(0);
        // devices send the courier name without its number: 1-courier.push.apple.com ->
        // courier.push.apple.com
        String sni =
            u.isCourier() ? pick.name().substring(pick.name().indexOf('.') + 1) : pick.name();
        String label =
            u.kind().name().toLowerCase(Locale.ROOT)
                + (u.isCourier() ? " " + u.variant() : "")
                + (u.environment() == ApnsHost.Environment.SANDBOX ? " sandbox" : "");
        out.add(new Target(label, pick.name(), port, sni));
      }
    }
    return out;
  }

  /** Runs every check now; one result per target, in target order. */
  public List<Result> run() throws InterruptedException {
    AtomicInteger n = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.max(1, Math.min(8, targets.size())),
            r -> {
              Thread t = new Thread(r, "apns-proxy-probe-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    try {
      List<Future<Result>> futures = new ArrayList<>();
      for (Target t : targets) {
        futures.add(pool.submit(() -> check(t)));
      }
      List<Result> out = new ArrayList<>();
      long wait = timeout.toMillis() * 4 + 5_000;
      for (int i = 0; i < futures.size(); i++) {
        try {
          out.add(futures.get(i).get(wait, TimeUnit.MILLISECONDS));
        } catch (ExecutionException | TimeoutException e) {
          out.add(new Result(targets.get(i), "probe", "did not finish: " + e, -1, -1, -1, ""));
        }
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * The results of the last run if younger than {@code maxAge}, else of a new run (callers wait for
   * one run in flight instead of starting another): for {@code /healthz?deep=1}, so health checkers
   * cannot make the proxy hammer Apple or the corporate proxy.
   */
  public List<Result> cached(Duration maxAge) throws InterruptedException {
    synchronized (cacheLock) {
      List<Result> l = last;
      if (l != null && System.nanoTime() - lastAt < maxAge.toNanos()) {
        return l;
      }
      l = run();
      last = l;
      lastAt = System.nanoTime();
      return l;
    }
  }

  /** Whether every result passed. */
  public static boolean allPassed(List<Result> results) {
    return results.stream().allMatch(Result::passed);
  }

  private Result check(Target t) {
    long resolveMs = -1;
    long connectMs;
    String via = "";
    Socket socket;
    List<EgressProxy> proxies = egress.proxiesFor(t.host(), t.port());
    if (proxies.isEmpty()) {
      long start = System.nanoTime();
      List<InetAddress> addresses;
      try {
        addresses =
            resolver
                .resolve(t.host())
                .toCompletableFuture()
                .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return new Result(t, "dns", "interrupted", -1, -1, -1, "direct");
      } catch (ExecutionException | TimeoutException | RuntimeException e) {
        return new Result(
            t,
            "dns",
            "DNS does not resolve " + t.host() + " (" + rootMessage(e) + ")",
            ms(start),
            -1,
            -1,
            "direct");
      }
      resolveMs = ms(start);
      if (addresses.isEmpty()) {
        return new Result(
            t,
            "dns",
            "DNS does not resolve " + t.host() + " (no address)",
            resolveMs,
            -1,
            -1,
            "direct");
      }
      start = System.nanoTime();
      socket = null;
      StringBuilder failures = new StringBuilder();
      for (InetAddress a : addresses) {
        Socket s = new Socket();
        try {
          s.connect(new InetSocketAddress(a, t.port()), (int) timeout.toMillis());
          socket = s;
          break;
        } catch (IOException e) {
          closeQuietly(s);
          failures
              .append(failures.length() == 0 ? "" : "; ")
              .append(a.getHostAddress())
              .append(": ")
              .append(e.getMessage());
        }
      }
      connectMs = ms(start);
      if (socket == null) {
        return new Result(
            t,
            "connect",
            "no TCP connection to port "
                + t.port()
                + " ("
                + failures
                + "): the firewall must allow it",
            resolveMs,
            connectMs,
            -1,
            "direct");
      }
      via = "direct " + socket.getInetAddress().getHostAddress();
    } else {
      long start = System.nanoTime();
      socket = null;
      StringBuilder failures = new StringBuilder();
      boolean config = false;
      boolean reached = false;
      for (EgressProxy p : proxies) {
        try {
          socket = p.connect(t.host(), t.port(), timeout);
          via = "proxy " + p;
          break;
        } catch (EgressProxyException e) {
          reached = true;
          config |= e.isConfigurationProblem();
          failures.append(failures.length() == 0 ? "" : "; ").append(e.getMessage());
        } catch (IOException e) {
          failures.append(failures.length() == 0 ? "" : "; ").append(e.getMessage());
        }
      }
      connectMs = ms(start);
      if (socket == null) {
        String step = reached ? "proxy CONNECT" : "proxy connect";
        String cause =
            config
                ? failures.toString()
                : reached
                    ? "the proxy could not reach "
                        + t.host()
                        + ":"
                        + t.port()
                        + " ("
                        + failures
                        + "); it may not resolve the name or reach Apple"
                    : failures.toString();
        return new Result(t, step, cause, -1, connectMs, -1, "proxy");
      }
    }
    long start = System.nanoTime();
    try (Socket plain = socket) {
      plain.setSoTimeout((int) timeout.toMillis());
      SSLSocket ssl =
          (SSLSocket) tls.getSocketFactory().createSocket(plain, t.sni(), t.port(), false);
      SSLParameters params = ssl.getSSLParameters();
      params.setServerNames(List.of(new SNIHostName(t.sni())));
      params.setEndpointIdentificationAlgorithm("HTTPS");
      ssl.setSSLParameters(params);
      ssl.startHandshake();
      long tlsMs = ms(start);
      Recording.LAST.remove();
      ssl.close();
      return new Result(t, "", "", resolveMs, connectMs, tlsMs, via);
    } catch (SSLException e) {
      return new Result(t, "tls", tlsCause(e), resolveMs, connectMs, ms(start), via);
    } catch (SocketTimeoutException e) {
      return new Result(
          t, "tls", "no TLS answer within " + timeout, resolveMs, connectMs, ms(start), via);
    } catch (IOException e) {
      return new Result(
          t,
          "tls",
          "TLS handshake failed: " + e.getMessage(),
          resolveMs,
          connectMs,
          ms(start),
          via);
    }
  }

  private static String tlsCause(SSLException e) {
    X509Certificate[] chain = Recording.LAST.get();
    Recording.LAST.remove();
    String msg = rootMessage(e);
    if (chain == null || chain.length == 0) {
      return "TLS handshake failed: " + msg;
    }
    String issuer = chain[chain.length - 1].getIssuerX500Principal().getName();
    String subject = chain[0].getSubjectX500Principal().getName();
    boolean apple =
        issuer.contains("O=Apple Inc.")
            || chain[0].getIssuerX500Principal().getName().contains("O=Apple Inc.");
    if (msg.contains("No subject alternative") || msg.contains("No name matching")) {
      return "TLS intercepted? the certificate (" + subject + ") does not name the host: " + msg;
    }
    if (apple) {
      return "certificate issued by Apple but not trusted here ("
          + issuer
          + "): add Apple's root to the trust store (--trust-store)";
    }
    return "TLS intercepted (certificate not Apple's): issued by "
        + issuer
        + " for "
        + subject
        + "; the proxy inspects TLS, exempt the APNs names from interception";
  }

  private static String rootMessage(Throwable e) {
    Throwable c = e;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    String m = c.getMessage();
    return c.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }

  private static long ms(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // nothing was sent on it; the descriptor is released either way
    }
  }

  /** The results as a table, one line per host, with the failed step and its cause. */
  public static String table(List<Result> results) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "%-26s %-38s %-8s %8s %8s %8s  %s%n",
            "KIND",
            "HOST:PORT (SNI)",
            "RESULT",
            "DNS ms",
            "TCP ms",
            "TLS ms",
            "FAILED STEP: CAUSE"));
    for (Result r : results) {
      Target t = r.target();
      b.append(
          String.format(
              Locale.ROOT,
              "%-26s %-38s %-8s %8s %8s %8s  %s%n",
              t.label(),
              t.host() + ":" + t.port() + " (" + t.sni() + ")",
              r.passed() ? "ok" : "FAILED",
              num(r.resolveMs()),
              num(r.connectMs()),
              num(r.tlsMs()),
              r.passed() ? r.via() : r.failedStep() + ": " + r.cause()));
    }
    long failed = results.stream().filter(r -> !r.passed()).count();
    b.append(
        failed == 0 ? "every host passed\n" : failed + " of " + results.size() + " hosts failed\n");
    return b.toString();
  }

  private static String num(long ms) {
    return ms < 0 ? "-" : Long.toString(ms);
  }

  /**
   * Delegates to the real trust manager, keeping the chain of a failed check for the diagnosis (per
   * thread).
   */
  private static final class Recording implements X509TrustManager {
    static final ThreadLocal<X509Certificate[]> LAST = new ThreadLocal<>();
    private final X509TrustManager base;

    Recording(X509TrustManager base) {
      this.base = base;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      base.checkClientTrusted(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      LAST.set(chain);
      base.checkServerTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return base.getAcceptedIssuers();
    }
  }
}
