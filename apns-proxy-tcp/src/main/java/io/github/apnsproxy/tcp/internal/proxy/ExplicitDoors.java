// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp.internal.proxy;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.tcp.FrontDoor;
import io.github.apnsproxy.tcp.InboundConnection;
import io.github.apnsproxy.tcp.Preface;
import io.github.apnsproxy.tcp.PrefaceDecision;
import io.github.apnsproxy.tcp.PrefaceParser;
import io.github.apnsproxy.tcp.ProxyUsers;
import io.github.apnsproxy.tcp.RejectReason;
import io.github.apnsproxy.tcp.Route;
import io.github.apnsproxy.tcp.Router;
import io.github.apnsproxy.tcp.UpstreamFailure;
import io.github.apnsproxy.tcp.UpstreamReplies;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The HTTP CONNECT and SOCKS5 front doors and the router for their targets, sharing one target
 * policy, one set of users and one set of counters. Thread-safe; each door makes one small parser
 * per connection.
 *
 * <p>Credentials: a password seen right before is checked in microseconds on the loop thread
 * ({@link ProxyUsers#quickCheck}); any other takes the slow hash on the auth executor, the
 * connection waiting ({@link PrefaceDecision#later}) without holding its loop. A check the executor
 * refuses (over capacity) is answered like wrong credentials and counted as {@code auth-busy}.
 */
public final class ExplicitDoors {
  static final String HTTP = "http-connect";
  static final String SOCKS = "socks5";
  private static final String REALM = "apns-proxy";

  /** How many numbered couriers to try for an unnumbered name whose pick did not resolve. */
  private static final int COURIER_TRIES = 3;

  /**
   * What {@link #update} swaps, one immutable snapshot: a connection's parser takes the one current
   * when it opens, a route the one current when it starts.
   */
  private record Conf(
      Targets targets,
      UpstreamResolver resolver,
      AddressPolicy policy,
      ProxyUsers users,
      Executor auth,
      @Nullable InetSocketAddress pacAddress) {}

  private volatile Conf conf;
  private final LongAdder failedLogins = new LongAdder();
  private final ConcurrentHashMap<String, LongAdder> counts = new ConcurrentHashMap<>();
  private final AtomicInteger rotation = new AtomicInteger();
  private final FrontDoor http;
  private final FrontDoor socks;

  /** Makes the doors. */
  public ExplicitDoors(
      AddressPlan plan,
      UpstreamResolver resolver,
      AddressPolicy policy,
      boolean allowAddresses,
      ProxyUsers users,
      Executor auth,
      @Nullable InetSocketAddress pacAddress) {
    this.conf =
        new Conf(
            new Targets(plan, policy, allowAddresses), resolver, policy, users, auth, pacAddress);
    this.http = door(HTTP, HttpHead.DEFAULT_MAX_HEAD, c -> new HttpParser(c)::parse);
    this.socks = door(SOCKS, 1024, c -> new SocksParser()::parse);
  }

  private interface Opener {
    PrefaceParser open(InboundConnection c);
  }

  private static FrontDoor door(String name, int max, Opener opener) {
    return new FrontDoor() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public int maxPrefaceBytes() {
        return max;
      }

      @Override
      public PrefaceParser open(InboundConnection connection) {
        return opener.open(connection);
      }

      @Override
      public String toString() {
        return name;
      }
    };
  }

  public FrontDoor http() {
    return http;
  }

  public FrontDoor socks() {
    return socks;
  }

  /**
   * Swaps everything but the counters and the doors themselves, atomically: connections that open
   * after this returns are parsed, and routes that start after it are judged and resolved, with the
   * new values; a connection already in its preface stage finishes with the ones it opened with.
   * Any thread.
   */
  public void update(
      AddressPlan plan,
      UpstreamResolver resolver,
      AddressPolicy policy,
      boolean allowAddresses,
      ProxyUsers users,
      Executor auth,
      @Nullable InetSocketAddress pacAddress) {
    conf =
        new Conf(
            new Targets(plan, policy, allowAddresses), resolver, policy, users, auth, pacAddress);
  }

  /** The users new connections are checked against. */
  public ProxyUsers users() {
    return conf.users();
  }

  /** The executor new password checks run on. */
  public Executor auth() {
    return conf.auth();
  }

  /** Credential checks that failed (wrong password, unknown user), over every set of users. */
  public long failedLogins() {
    return failedLogins.sum();
  }

  /** The counters, sorted by key. */
  public Map<String, Long> counts() {
    Map<String, Long> out = new TreeMap<>();
    counts.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  void count(String door, String outcome, String kind) {
    counts.computeIfAbsent(door + " " + outcome + " " + kind, k -> new LongAdder()).increment();
  }

  /**
   * Checks credentials and continues with {@code then} (true: right): at once when {@link
   * ProxyUsers#quickCheck} knows the answer, else with the slow hash on the auth executor ({@code
   * then} running there). Takes over {@code password} (zeroed once checked). {@code busy} is the
   * decision when the executor refuses the check.
   */
  private PrefaceDecision authenticate(
      Conf at,
      String user,
      byte[] password,
      Function<Boolean, PrefaceDecision> next,
      Supplier<PrefaceDecision> busy) {
    ProxyUsers users = at.users();
    Function<Boolean, PrefaceDecision> then =
        ok -> {
          if (!ok) {
            failedLogins.increment();
          }
          return next.apply(ok);
        };
    Optional<Boolean> quick = users.quickCheck(user, password);
    if (quick.isPresent()) {
      java.util.Arrays.fill(password, (byte) 0);
      return then.apply(quick.get());
    }
    try {
      return PrefaceDecision.later(
          CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return users.verify(user, password);
                    } finally {
                      java.util.Arrays.fill(password, (byte) 0);
                    }
                  },
                  at.auth())
              .thenApply(then));
    } catch (RejectedExecutionException e) {
      java.util.Arrays.fill(password, (byte) 0);
      return busy.get();
    }
  }

  // ---- routing
  // ---------------------------------------------------------------------------------------------------

  /** Routes connections with a target; others with {@code others}. */
  public Router router(Router others) {
    return c -> {
      InetSocketAddress t = c.preface().target();
      return t == null ? others.route(c) : routeTarget(conf, t);
    };
  }

  private CompletionStage<Route> routeTarget(Conf at, InetSocketAddress t) {
    Targets targets = at.targets();
    InetAddress literal = t.isUnresolved() ? null : t.getAddress();
    Targets.Verdict v = targets.judge(t.getHostString(), literal, t.getPort());
    if (!v.allowed()) {
      return CompletableFuture.completedFuture(
          Route.reject(
              literal == null ? RejectReason.NO_ROUTE : RejectReason.REFUSED_TARGET,
              String.valueOf(v.refusal())));
    }
    if (literal != null) {
      return CompletableFuture.completedFuture(Route.to(literal.getHostAddress(), List.of(t)));
    }
    ApnsHost h = v.host();
    if (h == null) {
      return CompletableFuture.completedFuture(Route.reject(RejectReason.NO_ROUTE, "no host"));
    }
    if (v.kind() == Targets.Kind.UNNUMBERED_COURIER) {
      int count = targets.plan().courierCount() + 1;
      int first = Math.floorMod(rotation.getAndIncrement(), count);
      return resolveCourier(at, h, first, count, 0, t.getPort());
    }
    return resolve(at, targets.plan().hostNames().format(h), t.getPort());
  }

  /**
   * Resolves courier number {@code n} of the unnumbered name's variant; on failure the next number,
   * a few times.
   */
  private CompletionStage<Route> resolveCourier(
      Conf at, ApnsHost template, int n, int count, int tries, int port) {
    ApnsHost pick = ApnsHost.courier(template.environment(), template.variant(), n);
    return resolve(at, at.targets().plan().hostNames().format(pick), port)
        .thenCompose(
            r -> {
              if (r.rejection() == RejectReason.RESOLVE_FAILED
                  && tries + 1 < Math.min(COURIER_TRIES, count)) {
                return resolveCourier(at, template, (n + 1) % count, count, tries + 1, port);
              }
              return CompletableFuture.completedFuture(r);
            });
  }

  private CompletionStage<Route> resolve(Conf at, String name, int port) {
    AddressPolicy policy = at.policy();
    CompletionStage<List<InetAddress>> resolved;
    try {
      resolved = at.resolver().resolve(name);
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(
          Route.reject(RejectReason.RESOLVE_FAILED, name + ": " + e));
    }
    return resolved.handle(
        (addresses, failure) -> {
          if (failure != null) {
            Throwable cause =
                failure instanceof CompletionException && failure.getCause() != null
                    ? failure.getCause()
                    : failure;
            String why = cause instanceof UnknownHostException ? "unknown host" : cause.toString();
            return Route.reject(RejectReason.RESOLVE_FAILED, name + ": " + why);
          }
          List<InetSocketAddress> candidates = new ArrayList<>(addresses.size());
          for (InetAddress a : addresses) {
            if (policy.allowsUpstream(a)) {
              candidates.add(new InetSocketAddress(a, port));
            }
          }
          if (candidates.isEmpty()) {
            return Route.reject(
                RejectReason.REFUSED_TARGET,
                name + " resolved to " + addresses + ", none in the upstream allow-list");
          }
          return Route.to(name, candidates);
        });
  }

  // ---- HTTP CONNECT
  // ----------------------------------------------------------------------------------------------

  private static ByteBuffer wrap(byte[] b) {
    return ByteBuffer.wrap(b);
  }

  /** One CONNECT connection's parser. Loop thread only. */
  private final class HttpParser {
    private final Conf at = conf;
    private final InboundConnection connection;
    private final HttpHead head = new HttpHead(HttpHead.DEFAULT_MAX_HEAD);

    HttpParser(InboundConnection connection) {
      this.connection = connection;
    }

    PrefaceDecision parse(ByteBuffer buffered) {
      HttpHead.Request r;
      try {
        r = head.offer(buffered);
      } catch (HttpHead.Malformed m) {
        count(HTTP, Integer.toString(m.status()), "-");
        return PrefaceDecision.refuse(
            m.reason(), wrap(HttpReplies.error(m.status(), "http_request_error", m.reason())));
      }
      if (r == null) {
        return PrefaceDecision.needMore();
      }
      String method = r.method();
      if (method.equals("GET") || method.equals("HEAD")) {
        return get(r, method.equals("HEAD"));
      }
      if (!method.equals("CONNECT")) {
        count(HTTP, "405", "-");
        return PrefaceDecision.refuse(
            "method " + HttpHead.printable(method), wrap(HttpReplies.methodNotAllowed(method)));
      }
      HttpHead.Authority a;
      try {
        a = HttpHead.authority(r.target());
      } catch (HttpHead.Malformed m) {
        count(HTTP, "400", "-");
        return PrefaceDecision.refuse(
            m.reason(), wrap(HttpReplies.error(400, "http_request_error", m.reason())));
      }
      // RFC 9110 9.3.6: a CONNECT request has no content; bytes after the head are the tunnel's. A
      // request that
      // declares content is ambiguous (body or tunnel data?), so it is refused rather than guessed.
      if (!r.values("Transfer-Encoding").isEmpty()
          || r.values("Content-Length").stream().anyMatch(v -> !v.strip().equals("0"))) {
        count(HTTP, "400", "-");
        String why = "a CONNECT request has no content (Content-Length or Transfer-Encoding sent)";
        return PrefaceDecision.refuse(why, wrap(HttpReplies.error(400, "http_request_error", why)));
      }
      if (!at.users().isEmpty()) {
        Object credentials = credentials(r);
        if (credentials instanceof String refusal) {
          count(HTTP, "407", "-");
          return PrefaceDecision.refuse(
              refusal, wrap(HttpReplies.authenticationRequired(REALM, refusal)));
        }
        Credentials c = (Credentials) credentials;
        HttpHead.Authority target = a;
        return authenticate(
            at,
            c.user(),
            c.password(),
            ok -> {
              if (!ok) {
                count(HTTP, "407", "-");
                String refusal = "wrong proxy credentials";
                return PrefaceDecision.refuse(
                    refusal, wrap(HttpReplies.authenticationRequired(REALM, refusal)));
              }
              return connect(r, target);
            },
            () -> {
              count(HTTP, "auth-busy", "-");
              String busy = "the proxy is busy checking credentials; try again";
              return PrefaceDecision.refuse(
                  busy, wrap(HttpReplies.authenticationRequired(REALM, busy)));
            });
      }
      return connect(r, a);
    }

    /** The request's credentials are right (or none are needed): judge the target and route. */
    private PrefaceDecision connect(HttpHead.Request r, HttpHead.Authority a) {
      InetAddress literal =
          a.literal()
              ? (a.host().indexOf(':') >= 0 ? Addresses.ipv6(a.host()) : Addresses.ipv4(a.host()))
              : null;
      Targets.Verdict v = at.targets().judge(a.host(), literal, a.port());
      String kind = v.kind().label();
      if (!v.allowed()) {
        count(HTTP, "403", kind);
        String why = String.valueOf(v.refusal());
        return PrefaceDecision.refuse(
            why,
            wrap(
                HttpReplies.error(
                    403,
                    literal != null ? "destination_ip_prohibited" : "http_request_denied",
                    why)));
      }
      InetSocketAddress target =
          literal != null
              ? new InetSocketAddress(literal, a.port())
              : InetSocketAddress.createUnresolved(a.host(), a.port());
      return PrefaceDecision.route(
          Preface.target(HTTP, target),
          r.headBytes(),
          new UpstreamReplies() {
            @Override
            public ByteBuffer connected(InetSocketAddress upstream, InetSocketAddress local) {
              count(HTTP, "200", kind);
              return wrap(HttpReplies.established());
            }

            @Override
            public ByteBuffer failed(UpstreamFailure failure) {
              int status;
              String type;
              String reason;
              switch (failure.kind()) {
                case NOT_ALLOWED -> {
                  status = 403;
                  type = "destination_ip_prohibited";
                  reason = "the target's addresses are outside the upstream allow-list";
                }
                case UNRESOLVABLE -> {
                  status = 502;
                  type = "dns_error";
                  reason = "the target name did not resolve";
                }
                case REFUSED -> {
                  status = 502;
                  type = "connection_refused";
                  reason = "the upstream refused the connection";
                }
                case UNREACHABLE -> {
                  status = 502;
                  type = "destination_unavailable";
                  reason = "the upstream is unreachable";
                }
                case TIMED_OUT -> {
                  status = 504;
                  type = "connection_timeout";
                  reason = "connecting to the upstream timed out";
                }
                default -> {
                  status = 502;
                  type = "proxy_internal_error";
                  reason = "the upstream connection failed";
                }
              }
              count(HTTP, Integer.toString(status), kind);
              return wrap(HttpReplies.error(status, type, reason));
            }
          });
    }

    private PrefaceDecision get(HttpHead.Request r, boolean headOnly) {
      String path = r.target();
      if (path.startsWith("http://")) {
        int slash = path.indexOf('/', 7);
        path = slash < 0 ? "/" : path.substring(slash);
      }
      int query = path.indexOf('?');
      if (query >= 0) {
        path = path.substring(0, query);
      }
      if (!path.equals("/proxy.pac")) {
        count(HTTP, "404", "-");
        return PrefaceDecision.refuse(
            "GET " + HttpHead.printable(path), wrap(HttpReplies.notFound(path)));
      }
      count(HTTP, "pac", "-");
      InetSocketAddress pac = at.pacAddress();
      InetSocketAddress proxy = pac != null ? pac : connection.local();
      return PrefaceDecision.answer("PAC file", wrap(HttpReplies.pac(Pac.text(proxy), headOnly)));
    }

    /**
     * The request's Basic credentials, or (a String) why there are none usable; never naming the
     * password.
     */
    private Object credentials(HttpHead.Request r) {
      List<String> values = r.values("Proxy-Authorization");
      if (values.isEmpty()) {
        return "proxy credentials required (Basic)";
      }
      if (values.size() > 1) {
        return "more than one Proxy-Authorization field";
      }
      String v = values.get(0);
      int sp = v.indexOf(' ');
      if (sp < 0 || !v.substring(0, sp).toLowerCase(Locale.ROOT).equals("basic")) {
        return "unsupported proxy credentials (expected Basic)";
      }
      byte[] decoded;
      try {
        decoded = Base64.getDecoder().decode(v.substring(sp + 1).strip());
      } catch (IllegalArgumentException e) {
        return "malformed Basic credentials";
      }
      int colon = -1;
      for (int i = 0; i < decoded.length; i++) {
        if (decoded[i] == ':') {
          colon = i;
          break;
        }
      }
      if (colon < 0) {
        return "malformed Basic credentials";
      }
      String user = new String(decoded, 0, colon, StandardCharsets.UTF_8);
      byte[] password = java.util.Arrays.copyOfRange(decoded, colon + 1, decoded.length);
      java.util.Arrays.fill(decoded, (byte) 0);
      return new Credentials(user, password);
    }
  }

  /** A user name and password (UTF-8; zeroed once checked). */
  private static final class Credentials {
    private final String user;
    private final byte[] password;

    Credentials(String user, byte[] password) {
      this.user = user;
      this.password = password;
    }

    String user() {
      return user;
    }

    byte[] password() {
      return password;
    }
  }

  // ---- SOCKS5
  // ----------------------------------------------------------------------------------------------------

  /** One SOCKS5 connection's parser. Loop thread only. */
  private final class SocksParser {
    private final Conf at = conf;
    private final Socks5 socks = new Socks5(!at.users().isEmpty());

    PrefaceDecision parse(ByteBuffer buffered) {
      Socks5.Step step = socks.offer(buffered);
      if (step instanceof Socks5.Authenticate a) {
        if (at.users().isEmpty()) {
          java.util.Arrays.fill(a.password(), (byte) 0);
          return decide(socks.authenticated(true, a.consumed()));
        }
        // the continuation may run on the auth executor; the splicer calls parse again only after
        // it completed
        return authenticate(
            at,
            a.user(),
            a.password(),
            ok -> {
              if (!ok) {
                count(SOCKS, "auth-failed", "-");
              }
              return decide(socks.authenticated(ok, a.consumed()));
            },
            () -> {
              count(SOCKS, "auth-busy", "-");
              return decide(socks.authenticated(false, a.consumed()));
            });
      }
      return decide(step);
    }

    private PrefaceDecision decide(Socks5.@Nullable Step step) {
      if (step == null) {
        return PrefaceDecision.needMore();
      }
      if (step instanceof Socks5.Reply r) {
        return PrefaceDecision.reply(wrap(r.reply()), r.consumed());
      }
      if (step instanceof Socks5.Close c) {
        if (c.code() >= 0) {
          count(SOCKS, Integer.toString(c.code()), "-");
        }
        return c.reply().length == 0
            ? PrefaceDecision.refuse(c.detail())
            : PrefaceDecision.refuse(c.detail(), wrap(c.reply()));
      }
      Socks5.Connect c = (Socks5.Connect) step;
      Targets.Verdict v = at.targets().judge(c.host(), c.address(), c.port());
      String kind = v.kind().label();
      if (!v.allowed()) {
        count(SOCKS, Integer.toString(Socks5.NOT_ALLOWED), kind);
        return PrefaceDecision.refuse(
            String.valueOf(v.refusal()), wrap(Socks5.reply(Socks5.NOT_ALLOWED, null)));
      }
      InetAddress literal = c.address();
      InetSocketAddress target =
          literal != null
              ? new InetSocketAddress(literal, c.port())
              : InetSocketAddress.createUnresolved(c.host(), c.port());
      return PrefaceDecision.route(
          Preface.target(SOCKS, target),
          c.consumed(),
          new UpstreamReplies() {
            @Override
            public ByteBuffer connected(InetSocketAddress upstream, InetSocketAddress local) {
              count(SOCKS, "0", kind);
              return wrap(Socks5.reply(Socks5.SUCCEEDED, local));
            }

            @Override
            public ByteBuffer failed(UpstreamFailure failure) {
              int code =
                  switch (failure.kind()) {
                    case NOT_ALLOWED -> Socks5.NOT_ALLOWED;
                    case UNRESOLVABLE -> Socks5.HOST_UNREACHABLE;
                    case REFUSED -> Socks5.CONNECTION_REFUSED;
                    case UNREACHABLE -> Socks5.HOST_UNREACHABLE;
                    case TIMED_OUT -> Socks5.TTL_EXPIRED;
                    default -> Socks5.GENERAL_FAILURE;
                  };
              count(SOCKS, Integer.toString(code), kind);
              return wrap(Socks5.reply(code, null));
            }
          });
    }
  }
}
