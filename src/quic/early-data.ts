/**
 * A server's 0-RTT policy (RFC 9001 section 4.6, RFC 8446 sections 4.2.10
 * and 8).
 *
 * 0-RTT data can be replayed by anyone who recorded it, so servers accept
 * none unless the operator turns it on (`serverTls.earlyData`). When it is
 * on, a 0-RTT attempt is accepted only if all of these hold:
 *
 * - the TLS engine's own checks pass: the ticket is ours and valid, the
 *   first PSK offered, same cipher suite and ALPN as when it was issued,
 *   no HelloRetryRequest, and the client's ticket age within 10 s of ours
 *   (RFC 8446 sections 4.2.10 and 8.3);
 * - the transport limits we advertise now are not below those sealed in
 *   the ticket when it was issued, which the client is using for its
 *   0-RTT packets (RFC 9000 section 7.4.1, RFC 9001 section 4.6.2);
 * - the ticket was never used for 0-RTT before: each ticket allows early
 *   data once (single-use tickets, RFC 8446 section 8.1). Used tickets are
 *   remembered until they expire in a store bounded by
 *   {@link DEFAULT_REPLAY_STORE_SIZE} entries; when it is full of live
 *   entries, 0-RTT is refused (the handshake goes on in 1-RTT) rather than
 *   risk a replay;
 * - the operator's own `acceptEarlyData` hook, if any, agrees.
 *
 * The store lives in this process, one per server configuration: servers
 * on several machines sharing ticket keys do not share it, and a replay
 * sent to another machine is not detected. Such deployments should give
 * each machine its own ticket keys, or keep 0-RTT off.
 */
import { ByteReader, ByteWriter } from "../util/bytes.js";
import type { EarlyDataRequest } from "../tls/server.js";
import type { ServerTlsOptions } from "./config.js";
import { REMEMBERED_LIMITS, reducedLimit, type RememberedLimits } from "./resumption.js";
import type { TransportParameters } from "./transport-params.js";
import { readVarint, writeVarint } from "./varint.js";

/** Tickets remembered at most by a server's anti-replay store. */
export const DEFAULT_REPLAY_STORE_SIZE = 100_000;

/** Bytes of a ticket kept as its key: its AEAD tag, unique per ticket and authenticated by the TLS engine before we see it. */
const KEY_BYTES = 16;

/**
 * Remembers tickets already used for 0-RTT until they expire (RFC 8446
 * section 8.1). Bounded: when full of live entries, {@link claim} refuses.
 */
export class ReplayGuard {
  /** Key to expiry time; insertion order is close to expiry order (tickets share one lifetime). */
  private readonly used = new Map<string, number>();

  /** @param capacity most tickets remembered at once. */
  constructor(readonly capacity = DEFAULT_REPLAY_STORE_SIZE) {}

  /** Tickets currently remembered. */
  get size(): number {
    return this.used.size;
  }

  /** Records the first 0-RTT use of `ticket`; false when it was used before or the store is full. */
  claim(ticket: Uint8Array, expiresAt: number, now: number): boolean {
    for (const [k, expiry] of this.used) {
      if (expiry > now) break;
      this.used.delete(k);
    }
    const key = Buffer.from(ticket.subarray(Math.max(0, ticket.length - KEY_BYTES))).toString("latin1");
    if (this.used.has(key) || this.used.size >= this.capacity) return false;
    this.used.set(key, expiresAt);
    return true;
  }
}

/** Encodes the limits a ticket is issued under, sealed into it as application data (RFC 9001 section 4.6.1). */
export function encodeTicketLimits(p: TransportParameters): Uint8Array {
  const w = new ByteWriter(64);
  for (const k of REMEMBERED_LIMITS) writeVarint(w, p[k]);
  return w.finish();
}

/** Reads {@link encodeTicketLimits}; undefined when malformed. */
function decodeTicketLimits(bytes: Uint8Array): RememberedLimits | undefined {
  try {
    const r = new ByteReader(bytes);
    const out = {} as RememberedLimits;
    for (const k of REMEMBERED_LIMITS) out[k] = readVarint(r);
    r.expectEnd("ticket limits");
    return out;
  } catch {
    return undefined;
  }
}

// One anti-replay store per server configuration, shared by its connections.
const guards = new WeakMap<ServerTlsOptions, ReplayGuard>();

/**
 * The `acceptEarlyData` hook of a server connection: the checks listed in
 * the module comment, then the operator's hook.
 */
export function earlyDataPolicy(serverTls: ServerTlsOptions, local: TransportParameters): (request: EarlyDataRequest) => boolean {
  let guard = guards.get(serverTls);
  if (!guard) guards.set(serverTls, (guard = new ReplayGuard()));
  const store = guard;
  return (request) => {
    const issued = request.appData && decodeTicketLimits(request.appData);
    // A ticket without limits was not issued by this transport: nothing to check the client's 0-RTT against.
    if (!issued || reducedLimit(issued, local) !== undefined) return false;
    if (serverTls.acceptEarlyData && !serverTls.acceptEarlyData(request)) return false;
    return store.claim(request.identity, request.expiresAt, request.now);
  };
}
