// SPDX-License-Identifier: Apache-2.0
package io.github.apnsproxy.core;

import io.github.apnsproxy.core.internal.Literals;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import java.util.Optional;

/**
 * An IPv4 or IPv6 network: a network address and a prefix length, with no host bits set. Immutable.
 *
 * @param network the network address (host bits zero)
 * @param prefixLength 0..32 for IPv4, 0..128 for IPv6
 */
public record Cidr(InetAddress network, int prefixLength) {

  public Cidr {
    Objects.requireNonNull(network, "network");
    int bits = network.getAddress().length * 8;
    if (prefixLength < 0 || prefixLength > bits) {
      throw new IllegalArgumentException(
          "prefix length "
              + prefixLength
              + " of "
              + network.getHostAddress()
              + " (expected 0.."
              + bits
              + ")");
    }
    byte[] b = network.getAddress();
    if (!isMasked(b, prefixLength)) {
      throw new IllegalArgumentException(
          network.getHostAddress()
              + "/"
              + prefixLength
              + " has host bits set (expected "
              + mask(network, prefixLength).getHostAddress()
              + "/"
              + prefixLength
              + ")");
    }
  }

  /**
   * Parses {@code 10.100.100.0/24}, {@code fd00:a::/64}, or a bare address (a /32 or /128).
   *
   * @throws IllegalArgumentException naming the input and what was expected
   */
  public static Cidr parse(String text) {
    Objects.requireNonNull(text, "text");
    String s = text.strip();
    int slash = s.indexOf('/');
    InetAddress address;
    int prefix;
    try {
      if (slash < 0) {
        address = Literals.parseAddress(s);
        prefix = address.getAddress().length * 8;
      } else {
        address = Literals.parseAddress(s.substring(0, slash));
        if (address instanceof Inet4Address && s.substring(0, slash).indexOf(':') >= 0) {
          // the JDK turns ::ffff:a.b.c.d into an IPv4 address, so an IPv6 prefix length would not
          // fit it
          throw new IllegalArgumentException(
              "IPv4-mapped IPv6 prefix (expected the IPv4 form, like 10.0.0.0/8)");
        }
        String p = s.substring(slash + 1);
        if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
          throw new IllegalArgumentException("bad prefix length '" + p + "'");
        }
        prefix = Integer.parseInt(p);
      }
      return new Cidr(address, prefix);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "'"
              + text
              + "' is not a CIDR (expected like 10.100.100.0/24 or fd00::/64): "
              + e.getMessage(),
          e);
    }
  }

  /** Like {@link #parse} but returns empty instead of throwing. */
  public static Optional<Cidr> tryParse(String text) {
    try {
      return Optional.of(parse(text));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  /** True for an IPv4 network. */
  public boolean isIpv4() {
    return network instanceof Inet4Address;
  }

  /** The number of address bits: 32 or 128. */
  public int addressBits() {
    return isIpv4() ? 32 : 128;
  }

  /** The number of host bits: {@code addressBits() - prefixLength()}. */
  public int hostBits() {
    return addressBits() - prefixLength;
  }

  /** The number of addresses in this network, network and broadcast addresses included. */
  public BigInteger size() {
    return BigInteger.ONE.shiftLeft(hostBits());
  }

  /** True when {@code address} is of the same family and inside this network. */
  public boolean contains(InetAddress address) {
    byte[] a = address.getAddress();
    byte[] n = network.getAddress();
    if (a.length != n.length) {
      return false;
    }
    int full = prefixLength / 8;
    for (int i = 0; i < full; i++) {
      if (a[i] != n[i]) {
        return false;
      }
    }
    int rest = prefixLength % 8;
    if (rest == 0) {
      return true;
    }
    int m = (0xff << (8 - rest)) & 0xff;
    return (a[full] & m) == (n[full] & m);
  }

  /** True when the two networks share at least one address. */
  public boolean overlaps(Cidr other) {
    return contains(other.network) || other.contains(network);
  }

  /**
   * The offset of {@code address} from the network address, or -1 when it is outside this network
   * or the offset does not fit in a {@code long}.
   */
  public long offsetOf(InetAddress address) {
    if (!contains(address)) {
      return -1;
    }
    byte[] a = address.getAddress();
    byte[] n = network.getAddress();
    long offset = 0;
    for (int i = 0; i < a.length; i++) {
      int diff = (a[i] & 0xff) - (n[i] & 0xff);
      if (offset > (Long.MAX_VALUE >> 8)) {
        return -1;
      }
      offset = (offset << 8) + diff;
      if (offset < 0) {
        return -1;
      }
    }
    return offset;
  }

  /**
   * The address at {@code offset} from the network address.
   *
   * @throws IllegalArgumentException when the offset is negative or beyond this network
   */
  public InetAddress addressAt(long offset) {
    if (offset < 0 || BigInteger.valueOf(offset).compareTo(size()) >= 0) {
      throw new IllegalArgumentException("offset " + offset + " outside " + this);
    }
    byte[] b = network.getAddress();
    long carry = offset;
    for (int i = b.length - 1; i >= 0 && carry != 0; i--) {
      long v = (b[i] & 0xff) + (carry & 0xff);
      b[i] = (byte) v;
      carry = (carry >>> 8) + (v >>> 8);
    }
    try {
      return InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  @Override
  public String toString() {
    return network.getHostAddress() + "/" + prefixLength;
  }

  private static boolean isMasked(byte[] b, int prefix) {
    for (int bit = prefix; bit < b.length * 8; bit++) {
      if ((b[bit / 8] & (0x80 >>> (bit % 8))) != 0) {
        return false;
      }
    }
    return true;
  }

  private static InetAddress mask(InetAddress address, int prefix) {
    byte[] b = address.getAddress();
    for (int bit = prefix; bit < b.length * 8; bit++) {
      b[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    try {
      return InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
