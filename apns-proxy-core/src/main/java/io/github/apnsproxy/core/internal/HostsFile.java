// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core.internal;

import io.github.apnsproxy.core.HostNames;
import io.github.apnsproxy.core.UpstreamResolver;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/** Hosts-format files ({@code ADDRESS NAME...}) and fixed-table resolvers. */
public final class HostsFile {
  /** The largest hosts file read: 16 MiB (a hosts file naming every APNs host is a few KiB). */
  public static final long MAX_BYTES = 16L * 1024 * 1024;

  private HostsFile() {}

  /** Lower-cases a name and strips one trailing dot. */
  public static String key(String name) {
    String n = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    return n.toLowerCase(Locale.ROOT);
  }

  /**
   * Reads a hosts file: name to addresses in file order. Only a regular file of at most {@link
   * #MAX_BYTES} is read (a device, a FIFO or an endless file would never end).
   *
   * @throws IllegalArgumentException naming the file and line of a malformed line
   * @throws IOException when the file cannot be read, is not a regular file or is too large
   */
  public static Map<String, List<InetAddress>> read(Path file) throws IOException {
    List<String> lines =
        StandardCharsets.UTF_8
            .newDecoder()
            .decode(ByteBuffer.wrap(readRegularFile(file, MAX_BYTES)))
            .toString()
            .lines()
            .toList();
    Map<String, List<InetAddress>> table = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      int hash = line.indexOf('#');
      if (hash >= 0) {
        line = line.substring(0, hash);
      }
      String[] fields = line.strip().split("\\s+", -1);
      if (fields.length == 1 && fields[0].isEmpty()) {
        continue;
      }
      if (fields.length < 2) {
        throw new IllegalArgumentException(
            file + ":" + (i + 1) + ": '" + lines.get(i).strip() + "' (expected ADDRESS NAME...)");
      }
      InetAddress address;
      try {
        address = Literals.parseAddress(fields[0]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(file + ":" + (i + 1) + ": " + e.getMessage(), e);
      }
      for (int f = 1; f < fields.length; f++) {
        if (HostNames.normalize(fields[f]).isEmpty()) {
          throw new IllegalArgumentException(
              file
                  + ":"
                  + (i + 1)
                  + ": '"
                  + fields[f]
                  + "' is not a host name"
                  + " (expected ADDRESS NAME...)");
        }
        List<InetAddress> list = table.computeIfAbsent(key(fields[f]), k -> new ArrayList<>());
        if (!list.contains(address)) {
          list.add(address);
        }
      }
    }
    return table;
  }

  /**
   * Reads a whole regular file of at most {@code maxBytes}: devices ({@code /dev/zero}), FIFOs and
   * directories are refused before they are opened, and a file that grows past the cap while read
   * is refused too.
   *
   * @throws IOException naming the file and what is wrong
   */
  public static byte[] readRegularFile(Path file, long maxBytes) throws IOException {
    BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class);
    if (!attrs.isRegularFile()) {
      throw new IOException(
          file + " is not a regular file (expected a file, not a device, FIFO or directory)");
    }
    if (attrs.size() > maxBytes) {
      throw new IOException(
          file + " has " + attrs.size() + " bytes (expected at most " + maxBytes + ")");
    }
    try (InputStream in = Files.newInputStream(file)) {
      byte[] bytes = in.readNBytes((int) maxBytes + 1);
      if (bytes.length > maxBytes) {
        throw new IOException(
            file + " has more than " + maxBytes + " bytes (expected at most " + maxBytes + ")");
      }
      return bytes;
    }
  }

  /** A resolver answering from {@code table}, completing at once. */
  public static UpstreamResolver resolver(Map<String, List<InetAddress>> table) {
    Map<String, List<InetAddress>> copy = new HashMap<>();
    table.forEach(
        (name, addresses) -> {
          if (addresses.isEmpty()) {
            throw new IllegalArgumentException(
                "no addresses for '" + name + "' (expected at least one)");
          }
          // names that differ only in case or a trailing dot are one name: merge, never let the
          // last one win
          List<InetAddress> merged = new ArrayList<>(copy.getOrDefault(key(name), List.of()));
          for (InetAddress a : addresses) {
            if (!merged.contains(Objects.requireNonNull(a, "address"))) {
              merged.add(a);
            }
          }
          copy.put(key(name), List.copyOf(merged));
        });
    return host -> {
      List<InetAddress> a = copy.get(key(host));
      return a != null
          ? CompletableFuture.completedFuture(a)
          : CompletableFuture.failedFuture(
              new UnknownHostException(host + " (not in the fixed table)"));
    };
  }

  /** True when {@code table} holds {@code name}. */
  public static boolean contains(Map<String, List<InetAddress>> table, String name) {
    return table.containsKey(key(name));
  }
}
