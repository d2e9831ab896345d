// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.examples;

import io.github.apnsproxy.core.UpstreamResolver;
import io.github.apnsproxy.dns.CachingResolver;
import io.github.apnsproxy.tcp.Egress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * {@code probe --config FILE [--trust-store FILE [--trust-store-password PW]]}: runs {@link Probe}
 * for the hosts the config's plan serves, prints the table, exits 0 only when every host passed (1
 * otherwise, 2 for bad usage).
 */
final class ProbeCommand {
  private ProbeCommand() {}

  static int run(String[] args, PrintStream out, PrintStream err)
      throws IOException, InterruptedException {
    Path config = null;
    Path trustFile = null;
    String password = "changeit";
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if ((a.equals("--config") || a.equals("--trust-store") || a.equals("--trust-store-password"))
          && i + 1 < args.length) {
        String v = args[++i];
        switch (a) {
          case "--config" -> config = Path.of(v);
          case "--trust-store" -> trustFile = Path.of(v);
          default -> password = v;
        }
      } else {
        throw new ApnsProxy.UsageException(
            "probe: unknown option '"
                + a
                + "' (expected --config FILE [--trust-store FILE [--trust-store-password PW]])");
      }
    }
    if (config == null) {
      throw new ApnsProxy.UsageException("probe: --config FILE is required");
    }
    ProxySetup cfg =
        ApnsProxy.loadConfig(
            ApnsProxy.configOption(new String[] {"--config", config.toString()}, "probe"));
    KeyStore trust = null;
    if (trustFile != null) {
      if (!Files.isRegularFile(trustFile)) {
        throw new ApnsProxy.UsageException(
            "probe: --trust-store " + trustFile + " is not a readable file");
      }
      try {
        trust = KeyStore.getInstance(trustFile.toFile(), password.toCharArray());
      } catch (GeneralSecurityException | IOException e) {
        throw new ApnsProxy.UsageException(
            "probe: cannot read trust store " + trustFile + ": " + e.getMessage());
      }
    }
    List<AutoCloseable> opened = new ArrayList<>();
    try {
      Egress egress = cfg.splicer().egress(); // upstream.proxy, as run uses it
      UpstreamResolver resolver = resolver(cfg, opened);
      Probe probe =
          new Probe(
              Probe.targetsFor(cfg.plan()),
              egress,
              resolver,
              trust,
              cfg.splicer().connectTimeout());
      out.println(
          "probing " + (egress.isDirect() ? "direct egress" : "egress through " + egress) + "...");
      List<Probe.Result> results = probe.run();
      out.print(Probe.table(results));
      return Probe.allPassed(results) ? 0 : 1;
    } catch (GeneralSecurityException e) {
      err.println("apns-proxy: probe: TLS setup failed: " + e.getMessage());
      return 1;
    } finally {
      for (AutoCloseable c : opened) {
        try {
          c.close();
        } catch (Exception e) {
          err.println("apns-proxy: probe: closing " + c + " failed: " + e);
        }
      }
    }
  }

  /** The hosts file first, then upstream DNS; with a proxy for every host neither is needed. */
  private static UpstreamResolver resolver(ProxySetup cfg, List<AutoCloseable> opened) {
    @Nullable CachingResolver caching = null;
    if (!cfg.resolver().servers().isEmpty()) {
      caching =
          CachingResolver.builder()
              .servers(cfg.resolver().servers())
              .timeout(cfg.resolver().timeout())
              .build();
      opened.add(caching);
    }
    Optional<UpstreamResolver> hosts = cfg.hostsResolver();
    if (hosts.isPresent()) {
      return caching == null ? hosts.get() : hosts.get().orElse(caching);
    }
    if (caching != null) {
      return caching;
    }
    return host ->
        java.util.concurrent.CompletableFuture.failedFuture(
            new java.net.UnknownHostException(
                host + " (neither upstream.dns nor upstream.hosts is set)"));
  }
}
