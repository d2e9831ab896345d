// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import io.github.apnsproxy.core.internal.HostsFile;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Resolves the real (upstream) address of an APNs host, e.g. {@code 17-courier.push.apple.com}.
 *
 * <p>Implementations must be thread-safe. {@link #resolve} must not block: it returns a stage that
 * completes on whatever thread finishes the work; a cache hit completes at once, on the calling
 * thread. A name that does not exist fails the stage with {@link UnknownHostException}; any other
 * failure (timeouts, all servers down) with another exception. The returned list is non-empty, in
 * the order the caller should try the addresses, and is not filtered by the {@link AddressPolicy}:
 * the caller decides.
 */
@FunctionalInterface
public interface UpstreamResolver {

  /**
   * Resolves {@code host} (any case, optional trailing dot).
   *
   * @return a stage completing with the addresses to try, in order, or failing
   */
  CompletionStage<List<InetAddress>> resolve(String host);

  /**
   * A resolver answering from a fixed table (names in any case, optional trailing dot); other names
   * fail with {@link UnknownHostException}. Completes at once. For tests, the demo and proxies
   * whose egress is a few fixed addresses.
   */
  static UpstreamResolver fixed(Map<String, List<InetAddress>> table) {
    Objects.requireNonNull(table, "table");
    return HostsFile.resolver(table);
  }

  /**
   * A resolver answering from a hosts-format file ({@code ADDRESS NAME...} per line, {@code #}
   * comments), read once, now.
   *
   * @throws IOException when the file cannot be read
   * @throws IllegalArgumentException naming the file and line when a line is malformed
   */
  static UpstreamResolver hostsFile(Path file) throws IOException {
    return HostsFile.resolver(HostsFile.read(file));
  }

  /**
   * This resolver, then {@code next} for names this one does not know ({@link
   * UnknownHostException}). Other failures of this resolver are not retried with {@code next}.
   */
  default UpstreamResolver orElse(UpstreamResolver next) {
    Objects.requireNonNull(next, "next");
    return host ->
        resolve(host)
            .handle(
                (addresses, failure) -> {
                  if (failure == null) {
                    return CompletableFuture.completedFuture(addresses);
                  }
                  Throwable cause =
                      failure instanceof CompletionException && failure.getCause() != null
                          ? failure.getCause()
                          : failure;
                  if (cause instanceof UnknownHostException) {
                    return next.resolve(host);
                  }
                  return CompletableFuture.<List<InetAddress>>failedFuture(cause);
                })
            .thenCompose(stage -> stage);
  }
}
