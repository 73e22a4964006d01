/**
 * Address validation tokens (RFC 9000 section 8.1.3, 8.1.4): the tokens a
 * server puts in a Retry packet and in NEW_TOKEN frames, sealed with
 * AES-256-GCM under one endpoint key so only this server (or one sharing
 * the key) can read them.
 *
 * The first byte says which kind a token is, and is authenticated, so a
 * Retry token can never pass for a NEW_TOKEN token or the reverse
 * (section 8.1.1: a server must tell them apart):
 *
 *   Retry     0x01 | iv | seal(issued | odcid | retry scid | ip:port) | tag
 *   NEW_TOKEN 0x02 | iv | seal(issued | ip) | tag
 *
 * A Retry token lives seconds and is bound to the client's address and
 * port; a NEW_TOKEN token is meant for a later connection, which usually
 * comes from another port, so it is bound to the IP address alone and lives
 * much longer (section 8.1.3).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { SocketAddress } from "./types.js";
import { formatAddress } from "./types.js";

/** Kind byte of a Retry token. */
const RETRY_TOKEN = 0x01;
/** Kind byte of a NEW_TOKEN token. */
const NEW_TOKEN = 0x02;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** Kind byte, IV and tag around the sealed fields. */
const OVERHEAD = 1 + IV_LENGTH + TAG_LENGTH;
/** Longest token we try to open: anything larger is not ours (our tokens are under 100 bytes). */
const MAX_TOKEN_LENGTH = 256;

/** Default lifetime of a Retry token: one round trip is all it needs (RFC 9000 section 8.1.4). */
export const DEFAULT_RETRY_TOKEN_LIFETIME = 10_000;
/** Default lifetime of a NEW_TOKEN token: a day, so a returning client skips validation (RFC 9000 section 8.1.3). */
export const DEFAULT_NEW_TOKEN_LIFETIME = 24 * 3600_000;
/** Clock skew tolerated between the server that sealed a token and the one opening it, ms. */
const CLOCK_SKEW = 1000;

/** What a valid Retry token proves. */
export interface RetryTokenContents {
  /** The DCID of the client's first Initial (for original_destination_connection_id). */
  originalDcid: Uint8Array;
  /** The SCID of our Retry (for retry_source_connection_id). */
  retrySourceCid: Uint8Array;
}

/** Seals and opens an endpoint's Retry and NEW_TOKEN tokens. */
export class AddressTokens {
  private readonly key: Uint8Array;

  /** @param key 32 bytes shared by the servers that must accept each other's tokens; random when absent. */
  constructor(key?: Uint8Array) {
    if (key !== undefined && key.length !== 32) throw new TypeError("the address token key must have 32 bytes");
    this.key = key ?? new Uint8Array(randomBytes(32));
  }

  /** The token of a Retry packet (RFC 9000 section 8.1.2). */
  sealRetry(originalDcid: Uint8Array, retrySourceCid: Uint8Array, from: SocketAddress, now: number): Uint8Array {
    const addr = Buffer.from(formatAddress(from));
    const plain = Buffer.alloc(8 + 1 + originalDcid.length + 1 + retrySourceCid.length + addr.length);
    let o = plain.writeDoubleBE(now, 0);
    plain[o++] = originalDcid.length;
    plain.set(originalDcid, o);
    o += originalDcid.length;
    plain[o++] = retrySourceCid.length;
    plain.set(retrySourceCid, o);
    o += retrySourceCid.length;
    plain.set(addr, o);
    return this.seal(RETRY_TOKEN, plain);
  }

  /** Opens a Retry token from `from`; undefined when it is not one, is forged, expired or from another address. */
  openRetry(token: Uint8Array, from: SocketAddress, now: number, lifetime = DEFAULT_RETRY_TOKEN_LIFETIME): RetryTokenContents | undefined {
    const plain = this.open(RETRY_TOKEN, token);
    if (!plain || plain.length < 10) return undefined;
    if (!fresh(plain.readDoubleBE(0), now, lifetime)) return undefined;
    let o = 8;
    const odLength = plain[o++]!;
    if (o + odLength + 1 > plain.length) return undefined;
    const originalDcid = new Uint8Array(plain.subarray(o, o + odLength));
    o += odLength;
    const rsLength = plain[o++]!;
    if (o + rsLength > plain.length) return undefined;
    const retrySourceCid = new Uint8Array(plain.subarray(o, o + rsLength));
    o += rsLength;
    if (plain.subarray(o).toString() !== formatAddress(from)) return undefined;
    return { originalDcid, retrySourceCid };
  }

  /** A token for a NEW_TOKEN frame (RFC 9000 section 8.1.3), bound to the client's IP address. */
  sealNewToken(client: SocketAddress, now: number): Uint8Array {
    const ip = Buffer.from(client.address);
    const plain = Buffer.alloc(8 + ip.length);
    plain.writeDoubleBE(now, 0);
    plain.set(ip, 8);
    return this.seal(NEW_TOKEN, plain);
  }

  /** True when `token` is a NEW_TOKEN token we issued to this IP address within `lifetime` ms. */
  openNewToken(token: Uint8Array, from: SocketAddress, now: number, lifetime = DEFAULT_NEW_TOKEN_LIFETIME): boolean {
    const plain = this.open(NEW_TOKEN, token);
    if (!plain || plain.length < 8) return false;
    return fresh(plain.readDoubleBE(0), now, lifetime) && plain.subarray(8).toString() === from.address;
  }

  /** True when the token claims to be a NEW_TOKEN token (its kind byte; not authenticated until opened). */
  static isNewToken(token: Uint8Array): boolean {
    return token[0] === NEW_TOKEN;
  }

  private seal(kind: number, plain: Buffer): Uint8Array {
    const iv = randomBytes(IV_LENGTH);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    // The kind byte is authenticated: flipping it breaks the tag.
    c.setAAD(Buffer.of(kind));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return new Uint8Array(Buffer.concat([Buffer.of(kind), iv, body, c.getAuthTag()]));
  }

  private open(kind: number, token: Uint8Array): Buffer | undefined {
    if (token.length <= OVERHEAD || token.length > MAX_TOKEN_LENGTH || token[0] !== kind) return undefined;
    try {
      const d = createDecipheriv("aes-256-gcm", this.key, token.subarray(1, 1 + IV_LENGTH));
      d.setAAD(Buffer.of(kind));
      d.setAuthTag(token.subarray(token.length - TAG_LENGTH));
      return Buffer.concat([d.update(token.subarray(1 + IV_LENGTH, token.length - TAG_LENGTH)), d.final()]);
    } catch {
      return undefined;
    }
  }
}

function fresh(issued: number, now: number, lifetime: number): boolean {
  return now - issued <= lifetime && issued <= now + CLOCK_SKEW;
}
