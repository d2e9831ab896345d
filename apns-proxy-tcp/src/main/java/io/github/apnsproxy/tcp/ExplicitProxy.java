// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.tcp.internal.proxy.AuthPool;
import io.github.apnsproxy.tcp.internal.proxy.ExplicitDoors;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * The explicit-proxy front doors for MDM servers and PAC-configured devices: an HTTP CONNECT
 * listener (RFC 9110 section 9.3.6, with {@code GET /proxy.pac}) and a SOCKS5 listener (RFC 1928,
 * with RFC 1929 username/password), limited to APNs: a request may name only a host of the zone
 * {@code plan} serves, on its ports (couriers, also the unnumbered {@code courier.push.apple.com}
 * names, for which the proxy picks a numbered courier; init, and {@code init-p01st} also on 80; the
 * provider API), and an address literal only when {@link Builder#allowAddresses} is on and the
 * address is in the policy's upstream list. The success reply is sent once the upstream is
 * connected; failures get real codes (HTTP 400, 403, 405, 407, 502, 504; SOCKS5 0x02 to 0x08).
 *
 * <p>Use with {@link TcpSplicer.Builder#connectListen} and {@link TcpSplicer.Builder#socksListen};
 * the splicer then routes these listeners' connections with {@link #router(Router)}. Thread-safe;
 * its counters are read with {@link #requests()}. {@link #update} swaps its plan, resolver, policy,
 * users and options atomically while its listeners run (a config reload), with open tunnels
 * untouched.
 */
public final class ExplicitProxy {
  private final ExplicitDoors doors;

  private ExplicitProxy(ExplicitDoors doors) {
    this.doors = doors;
  }

  /**
   * A builder for the plan whose names are allowed, the resolver of those names, the upstream
   * policy.
   */
  public static Builder builder(AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy) {
    return new Builder(plan, resolver, policy);
  }

  /** The HTTP CONNECT front door (door name {@code http-connect}). */
  public FrontDoor httpConnect() {
    return doors.http();
  }

  /** The SOCKS5 front door (door name {@code socks5}). */
  public FrontDoor socks5() {
    return doors.socks();
  }

  /**
   * A router that routes the explicit-proxy connections (those whose {@link Preface#target()} is
   * set) to their target, and every other connection with {@code others}.
   */
  public Router router(Router others) {
    return doors.router(Objects.requireNonNull(others, "others"));
  }

  /**
   * Requests so far by outcome: keys {@code DOOR CODE KIND}, e.g. {@code http-connect 200 api},
   * {@code socks5 2 address} (the HTTP status or SOCKS5 reply code, {@code auth-failed} for wrong
   * or missing SOCKS5 credentials, {@code auth-busy} for credentials not checked because the auth
   * executor was full (answered like wrong ones), {@code pac} for the PAC file; the target kind:
   * courier, courier-unnumbered, init, api, address, other, or {@code -} before a target was read).
   * Any thread.
   */
  public Map<String, Long> requests() {
    return doors.counts();
  }

  /**
   * Failed credential checks so far (wrong password, unknown user; missing credentials are not
   * attempts).
   */
  public long failedLogins() {
    return doors.failedLogins();
  }

  /**
   * Applies {@code next}'s plan, resolver, policy, {@link Builder#allowAddresses}, {@link
   * Builder#users} and {@link Builder#pacAddress} at once, atomically: a connection that reaches a
   * CONNECT or SOCKS5 listener after this returns is authenticated, judged and resolved with them;
   * one already reading its request finishes with the values it started with, and open tunnels are
   * never touched. The counters go on. Password checks run on {@code next}'s {@link
   * Builder#authExecutor} when it set one, else on the running executor (a default pool is made
   * when users appear where there were none). The old resolver is no longer called for new requests
   * once this returns, so it may be closed then (routes already started may still finish on it).
   * Any thread.
   */
  public void update(Builder next) {
    Objects.requireNonNull(next, "next");
    Executor running = doors.auth();
    Executor auth = next.authExecutor;
    if (auth == null) {
      auth =
          next.users.isEmpty() || running != INLINE
              ? running
              : AuthPool.create(); // users where there were none: checks leave the loop now
    }
    doors.update(
        next.plan,
        next.resolver,
        next.policy,
        next.allowAddresses,
        next.users,
        auth,
        next.pacAddress);
  }

  /** The users requests are checked against now (none: no authentication). */
  public ProxyUsers users() {
    return doors.users();
  }

  /** Runs a check in the calling thread: the executor when there are no users to check. */
  private static final Executor INLINE = Runnable::run;

  /** Builds an {@link ExplicitProxy}. Not thread-safe. */
  public static final class Builder {
    private final AddressPlan plan;
    private final UpstreamResolver resolver;
    private final AddressPolicy policy;
    private boolean allowAddresses;
    private ProxyUsers users = ProxyUsers.none();
    private @Nullable Executor authExecutor;
    private @Nullable InetSocketAddress pacAddress;

    private Builder(AddressPlan plan, UpstreamResolver resolver, AddressPolicy policy) {
      this.plan = Objects.requireNonNull(plan, "plan");
      this.resolver = Objects.requireNonNull(resolver, "resolver");
      this.policy = Objects.requireNonNull(policy, "policy");
    }

    /**
     * Whether requests may name an IPv4/IPv6 address instead of an APNs name (then only inside the
     * policy's upstream list, on an APNs port); default false (config key {@code
     * connect.allow-addresses}).
     */
    public Builder allowAddresses(boolean allow) {
      this.allowAddresses = allow;
      return this;
    }

    /**
     * The users that may use the listeners; default none = no authentication (config key {@code
     * connect.users}, a file read with {@link ProxyUsers#load}).
     */
    public Builder users(ProxyUsers users) {
      this.users = Objects.requireNonNull(users, "users");
      return this;
    }

    /**
     * Where the slow password checks run (PBKDF2, tens to hundreds of milliseconds each; never on a
     * loop thread). It must refuse work over its capacity with {@link
     * java.util.concurrent.RejectedExecutionException}: such a request is answered like wrong
     * credentials (HTTP 407, SOCKS5 authentication failure) and counted as {@code auth-busy}.
     * Default: made at {@link #build()}, {@value AuthPool#THREADS} daemon threads named {@code
     * apns-proxy-auth-N} (ending when idle, so nothing needs closing) and a queue of {@value
     * AuthPool#QUEUE} checks. Used only when {@link #users} has users.
     */
    public Builder authExecutor(Executor executor) {
      this.authExecutor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * The proxy address written into the PAC file ({@code PROXY host:port}); default the address
     * and port the client reached the CONNECT listener on (config key {@code connect.pac-address}).
     * An unresolved address keeps its name.
     */
    public Builder pacAddress(InetSocketAddress address) {
      Objects.requireNonNull(address, "address");
      if (address.getPort() == 0) {
        throw new IllegalArgumentException(
            "PAC address " + address + " has port 0 (expected the CONNECT port)");
      }
      this.pacAddress = address;
      return this;
    }

    /** Builds it. */
    public ExplicitProxy build() {
      Executor auth = authExecutor;
      if (auth == null) {
        auth = users.isEmpty() ? INLINE : AuthPool.create();
      }
      return new ExplicitProxy(
          new ExplicitDoors(plan, resolver, policy, allowAddresses, users, auth, pacAddress));
    }
  }
}
