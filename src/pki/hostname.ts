/**
 * Server identity checks: does a certificate name the host the client meant
 * to reach? DNS names follow RFC 6125 section 6.4 (with the stricter wildcard
 * rules of its successor RFC 9525 section 6.3), IP addresses are compared as
 * bytes against iPAddress entries (RFC 5280 section 4.2.1.6).
 */
import { isIP } from "node:net";

/**
 * The 4 (IPv4) or 16 (IPv6) bytes of a textual IP address, or undefined if
 * `text` is not one. IPv4 is strict dotted-quad without leading zeros (so
 * "010.0.0.1" is not silently read as octal or decimal); IPv6 follows
 * RFC 4291 section 2.2, including "::" and a trailing dotted IPv4 part.
 */
export function parseIpAddress(text: string): Uint8Array | undefined {
  return parseIPv4(text) ?? parseIPv6(text);
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length > 45) return undefined; // longest form: 6 groups of 4, plus a dotted quad
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p); // RFC 4291 section 2.2 form 3: x:x:x:x:x:x:d.d.d.d
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // A trailing dotted part is only allowed at the very end of the address.
  if (halves.length === 2 && halves[0]!.includes(".")) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** A host as the client named it: an IP address, or a DNS name in lower case without a trailing dot. */
export type ReferenceIdentity = { kind: "ip"; address: Uint8Array } | { kind: "dns"; name: string };

/**
 * Classifies the host a client connects to. Brackets around an IPv6
 * literal ("[::1]", as in URLs) and an IPv6 zone ("fe80::1%eth0", which no
 * certificate can carry) are removed first.
 */
export function referenceIdentity(host: string): ReferenceIdentity {
  let h = host.trim();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  const zone = h.indexOf("%");
  const withoutZone = zone > 0 && h.includes(":") ? h.slice(0, zone) : h;
  if (isIP(withoutZone) !== 0) {
    const address = parseIpAddress(withoutZone);
    if (address) return { kind: "ip", address };
  }
  return { kind: "dns", name: normalizeDnsName(h) };
}

/** Lower-cases ASCII letters and drops one trailing dot (a fully qualified "example.com." is the same name). */
function normalizeDnsName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * Whether a dNSName from a certificate (`pattern`) matches the reference
 * DNS name `host` (already normalised by {@link referenceIdentity}).
 *
 * Comparison is case-insensitive (RFC 6125 section 6.4.1). A wildcard is
 * honoured only as the entire left-most label ("*.example.com"), matches
 * exactly one non-empty label, and needs at least two labels after it so
 * "*.com" matches nothing (RFC 6125 section 6.4.3; RFC 9525 section 6.3
 * drops partial-label wildcards such as "f*.example.com" altogether).
 */
export function matchesDnsName(pattern: string, host: string): boolean {
  const p = normalizeDnsName(pattern);
  if (p === "" || host === "" || p.split(".").some((l) => l === "")) return false;
  if (!p.includes("*")) return p === host;
  const [first, ...rest] = p.split(".");
  if (first !== "*" || rest.length < 2 || rest.some((l) => l.includes("*"))) return false;
  const dot = host.indexOf(".");
  if (dot <= 0) return false;
  return host.slice(dot + 1) === rest.join(".");
}

/** Byte equality for IP addresses. */
export function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
