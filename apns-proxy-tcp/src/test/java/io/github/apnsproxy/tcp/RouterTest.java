// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.apnsproxy.core.AddressPlan;
import io.github.apnsproxy.core.AddressPolicy;
import io.github.apnsproxy.core.ApnsHost;
import io.github.apnsproxy.core.Cidr;
import io.github.apnsproxy.core.CidrSet;
import io.github.apnsproxy.core.UpstreamResolver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The stock plan router and the builder's checks, in memory. */
class RouterTest {
  private static final AddressPolicy LOOPBACK =
      new AddressPolicy(CidrSet.parse("127.0.0.0/8"), CidrSet.parse("127.0.0.0/8"));

  private static InetAddress ip(String s) throws Exception {
    return InetAddress.getByName(s);
  }

  private static Route route(Router r, InetAddress local, int port) throws Exception {
    return r.route(
            new InboundConnection(
                new InetSocketAddress(ip("127.0.0.9"), 40000), new InetSocketAddress(local, port)))
        .toCompletableFuture()
        .get();
  }

  @Test
  void exactPlanMapsVirtualAddressToCourierCandidatesOnDialledPort() throws Exception {
    AddressPlan plan =
        AddressPlan.builder().site(Cidr.parse("127.100.100.0/24")).courierCount(3).build();
    UpstreamResolver resolver =
        UpstreamResolver.fixed(
            Map.of(
                "2-courier.push.apple.com",
                List.of(ip("127.0.1.3"), ip("10.9.9.9"), ip("127.0.1.4"))));
    Router r = Router.fromPlan(plan, resolver, LOOPBACK);
    InetAddress v2 = plan.addressesFor(ApnsHost.courier(2), ip("127.0.0.9")).get(0);
    Route ok = route(r, v2, 5223);
    assertThat(ok.isRejected()).isFalse();
    assertThat(ok.host()).isEqualTo("2-courier.push.apple.com");
    assertThat(ok.candidates())
        .containsExactly(
            new InetSocketAddress(ip("127.0.1.3"), 5223),
            new InetSocketAddress(ip("127.0.1.4"), 5223));
    assertThat(route(r, v2, 443).candidates()).allMatch(a -> a.getPort() == 443);
    assertThat(route(r, v2, 80).rejection()).isEqualTo(RejectReason.NO_ROUTE);
    assertThat(route(r, ip("127.55.0.1"), 5223).rejection()).isEqualTo(RejectReason.NO_ROUTE);
    InetAddress v1 = plan.addressesFor(ApnsHost.courier(1), ip("127.0.0.9")).get(0);
    assertThat(route(r, v1, 5223).rejection()).isEqualTo(RejectReason.RESOLVE_FAILED);

    Router strict =
        Router.fromPlan(plan, resolver, new AddressPolicy(CidrSet.any(), AddressPolicy.APPLE_APNS));
    assertThat(route(strict, v2, 5223).rejection()).isEqualTo(RejectReason.REFUSED_TARGET);
  }

  @Test
  void pooledPlanRotatesOverMembers() throws Exception {
    AddressPlan plan =
        AddressPlan.builder()
            .site(Cidr.parse("127.100.100.0/24"))
            .courierCount(2)
            .courierVariants(List.of("courier"))
            .style(AddressPlan.Style.POOLED)
            .build();
    UpstreamResolver resolver =
        UpstreamResolver.fixed(
            Map.of(
                "0-courier.push.apple.com", List.of(ip("127.0.1.1")),
                "1-courier.push.apple.com", List.of(ip("127.0.1.2")),
                "2-courier.push.apple.com", List.of(ip("127.0.1.3"))));
    Router r = Router.fromPlan(plan, resolver, LOOPBACK);
    InetAddress pooled = plan.addressesFor(ApnsHost.courier(1), ip("127.0.0.9")).get(0);
    Set<String> hosts = new HashSet<>();
    for (int i = 0; i < 3; i++) {
      hosts.add(route(r, pooled, 5223).host());
    }
    assertThat(hosts).hasSize(3);
  }

  @Test
  void routeValuesAndBuilderAreChecked() {
    assertThatThrownBy(() -> Route.to("x", List.of())).isInstanceOf(IllegalArgumentException.class);
    assertThat(Route.reject("why").rejection()).isEqualTo(RejectReason.NO_ROUTE);
    assertThatThrownBy(() -> TcpSplicer.builder().loops(0)).hasMessageContaining("loops 0");
    assertThatThrownBy(() -> TcpSplicer.builder().connectTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TcpSplicer.builder().build()).hasMessageContaining("listen");
    assertThatThrownBy(() -> TcpSplicer.builder().listen(new InetSocketAddress(0)).build())
        .hasMessageContaining("router");
  }
}
