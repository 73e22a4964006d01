/**
 * The server's preferred address (RFC 9000 section 9.6): building the
 * preferred_address transport parameter from configured socket addresses,
 * and choosing the address a client moves to.
 */
import { isIPv4, isIPv6 } from "node:net";
import { preferredAddressEndpoints, type PreferredAddress } from "../transport-params.js";
import type { SocketAddress } from "../types.js";

/** Addresses a server offers in preferred_address, one per family (RFC 9000 section 18.2). */
export interface PreferredAddressConfig {
  /** An IPv4 literal and port. */
  ipv4?: SocketAddress;
  /** An IPv6 literal and port. */
  ipv6?: SocketAddress;
}

/** Checks a configuration; throws TypeError naming the bad field. */
export function checkPreferredAddressConfig(c: PreferredAddressConfig): void {
  if (!c.ipv4 && !c.ipv6) throw new TypeError("config.preferredAddress needs an ipv4 or an ipv6 address");
  for (const [family, a, ok] of [["ipv4", c.ipv4, isIPv4], ["ipv6", c.ipv6, isIPv6]] as const) {
    if (!a) continue;
    if (!ok(a.address)) throw new TypeError(`config.preferredAddress.${family}.address must be an ${family === "ipv4" ? "IPv4" : "IPv6"} literal, not "${a.address}"`);
    if (!(Number.isInteger(a.port) && a.port > 0 && a.port < 65536)) throw new TypeError(`config.preferredAddress.${family}.port must be 1..65535`);
  }
}

/** An IPv4 literal as 4 bytes. */
function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split(".").map(Number));
}

/** An IPv6 literal (with `::` and an embedded IPv4 tail allowed) as 16 bytes. */
function ipv6Bytes(address: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  const groups: number[][] = [[], []];
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split("::");
  halves.forEach((h, i) => {
    if (h) groups[i] = h.split(":").map((g) => parseInt(g, 16));
  });
  const [head, tail] = groups as [number[], number[]];
  head.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  tail.forEach((g, i) => {
    const at = 16 - 2 * (tail.length - i);
    out[at] = g >> 8;
    out[at + 1] = g & 0xff;
  });
  return out;
}

/** The preferred_address parameter for `c`, with the CID (sequence 1) and reset token issued for it (RFC 9000 sections 5.1.1, 18.2). */
export function preferredAddressParameter(c: PreferredAddressConfig, connectionId: Uint8Array, statelessResetToken: Uint8Array): PreferredAddress {
  return {
    // A family the server does not offer is all zeros (RFC 9000 section 18.2).
    ipv4Address: c.ipv4 ? ipv4Bytes(c.ipv4.address) : new Uint8Array(4),
    ipv4Port: c.ipv4?.port ?? 0,
    ipv6Address: c.ipv6 ? ipv6Bytes(c.ipv6.address) : new Uint8Array(16),
    ipv6Port: c.ipv6?.port ?? 0,
    connectionId,
    statelessResetToken,
  };
}

/**
 * The preferred address a client on `current` can reach: the one of the
 * same family (a client keeps its socket, RFC 9000 section 9.6.1), or undefined.
 */
export function reachablePreferredAddress(pa: PreferredAddress, current: SocketAddress): SocketAddress | undefined {
  const e = preferredAddressEndpoints(pa);
  return isIPv6(current.address) && !current.address.startsWith("::ffff:") ? e.ipv6 : e.ipv4;
}

/** True when `local` is one of the configured preferred addresses. */
export function isPreferredAddress(c: PreferredAddressConfig | undefined, local: SocketAddress | undefined): boolean {
  if (!c || !local) return false;
  return [c.ipv4, c.ipv6].some((a) => a !== undefined && a.port === local.port && a.address === local.address);
}
