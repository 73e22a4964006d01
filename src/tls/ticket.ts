/**
 * Session tickets (RFC 8446 section 4.6.1, 2.2).
 *
 * Client side: {@link SessionTicket} is what a client keeps from a
 * NewSessionTicket to resume later; {@link encodeSessionTicket} /
 * {@link decodeSessionTicket} serialize it.
 *
 * Server side: tickets are self-encrypted ("stateless") with AES-256-GCM under
 * keys derived from configurable ticket secrets, so any server holding the
 * same secret can resume them. The ticket carries everything resumption
 * needs: the PSK (the resumption secret of this ticket), suite, ALPN, SNI,
 * ticket_age_add, issue time, lifetime, early-data allowance and opaque
 * application data.
 */
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { hkdfExtract } from "../crypto/hkdf.js";
import { findCipherSuite, type CipherSuite, type CipherSuiteName } from "../crypto/suites.js";
import { ByteReader, ByteWriter, concatBytes } from "../util/bytes.js";
import { DecodeError, TsquicError } from "../util/errors.js";

/** A resumable session as the client stores it. Serialize with {@link encodeSessionTicket}. */
export interface SessionTicket {
  /** The opaque ticket to send as the PSK identity. */
  readonly ticket: Uint8Array;
  /** The PSK for this ticket: HKDF-Expand-Label(resumption_master_secret, "resumption", nonce) (RFC 8446 section 4.6.1). */
  readonly psk: Uint8Array;
  /** Suite of the original connection; resumption needs one with the same hash (RFC 8446 section 4.2.11). */
  readonly cipherSuite: CipherSuiteName;
  /** ticket_age_add (RFC 8446 section 4.6.1). */
  readonly ageAdd: number;
  /** ticket_lifetime in seconds. */
  readonly lifetime: number;
  /** When the ticket arrived (ms, the `now` of the receive call). */
  readonly receivedAt: number;
  /** max_early_data_size, 0 when the ticket does not allow 0-RTT. */
  readonly maxEarlyDataSize: number;
  /** SNI of the original connection (RFC 8446 section 4.6.1: resume only for a compatible name). */
  readonly serverName?: string;
  /** ALPN of the original connection (0-RTT requires the same one, RFC 8446 section 4.2.10). */
  readonly alpnProtocol?: string;
  /** The server's transport parameters, which a 0-RTT client must remember (RFC 9001 section 4.6.1; RFC 9000 section 7.4.1). */
  readonly peerTransportParameters?: Uint8Array;
  /** The server's certificate chain from the original handshake. */
  readonly peerCertificates?: Uint8Array[];
}

const TICKET_FORMAT = 1;

function writeOptString(w: ByteWriter, s: string | undefined): void {
  w.vec(2, s === undefined ? new Uint8Array(0) : new Uint8Array(Buffer.from(s, "latin1")));
}

function readOptString(r: ByteReader): string | undefined {
  const b = r.vec16();
  return b.length === 0 ? undefined : Buffer.from(b).toString("latin1");
}

function writeU64(w: ByteWriter, v: number): void {
  w.u32(Math.floor(v / 0x100000000)).u32(v >>> 0);
}

function readU64(r: ByteReader): number {
  return r.u32() * 0x100000000 + r.u32();
}

/** Serializes a client session ticket for storage. */
export function encodeSessionTicket(t: SessionTicket): Uint8Array {
  const w = new ByteWriter(512);
  w.u8(TICKET_FORMAT);
  w.vec(2, t.ticket).vec(1, t.psk);
  w.u16(findCipherSuite(t.cipherSuite)!.id);
  w.u32(t.ageAdd).u32(t.lifetime);
  writeU64(w, t.receivedAt);
  w.u32(t.maxEarlyDataSize);
  writeOptString(w, t.serverName);
  writeOptString(w, t.alpnProtocol);
  w.u8(t.peerTransportParameters ? 1 : 0);
  if (t.peerTransportParameters) w.vec(2, t.peerTransportParameters);
  const certs = w.beginVec(3);
  for (const c of t.peerCertificates ?? []) w.vec(3, c);
  w.endVec(certs);
  return w.finish();
}

/** Parses {@link encodeSessionTicket} output; throws {@link DecodeError} when malformed. */
export function decodeSessionTicket(bytes: Uint8Array): SessionTicket {
  const r = new ByteReader(bytes);
  if (r.u8() !== TICKET_FORMAT) throw new DecodeError("unknown session ticket format");
  const ticket = r.vec16().slice();
  const psk = r.vec8().slice();
  const suite = findCipherSuite(r.u16());
  if (!suite) throw new DecodeError("unknown cipher suite in session ticket");
  const ageAdd = r.u32();
  const lifetime = r.u32();
  const receivedAt = readU64(r);
  const maxEarlyDataSize = r.u32();
  const serverName = readOptString(r);
  const alpnProtocol = readOptString(r);
  const peerTransportParameters = r.u8() ? r.vec16().slice() : undefined;
  const list = r.sub(3);
  const peerCertificates: Uint8Array[] = [];
  while (!list.done) peerCertificates.push(list.vec24().slice());
  r.expectEnd("session ticket");
  return {
    ticket,
    psk,
    cipherSuite: suite.name,
    ageAdd,
    lifetime,
    receivedAt,
    maxEarlyDataSize,
    ...(serverName !== undefined ? { serverName } : {}),
    ...(alpnProtocol !== undefined ? { alpnProtocol } : {}),
    ...(peerTransportParameters ? { peerTransportParameters } : {}),
    ...(peerCertificates.length ? { peerCertificates } : {}),
  };
}

// ---------------------------------------------------------------------------
// Server-side ticket protection

/** What a server seals into a ticket and recovers on resumption. */
export interface TicketState {
  readonly suite: CipherSuite;
  /** The ticket's PSK. */
  readonly psk: Uint8Array;
  readonly alpnProtocol?: string;
  readonly serverName?: string;
  readonly ageAdd: number;
  /** Issue time in ms. */
  readonly issuedAt: number;
  /** Lifetime in seconds. */
  readonly lifetime: number;
  /** max_early_data_size granted (0: none). */
  readonly maxEarlyDataSize: number;
  /** Opaque application state (RFC 9001 section 4.6.1 lets QUIC keep transport state here). */
  readonly appData?: Uint8Array;
}

const KEY_ID_LENGTH = 4;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;

interface TicketKey {
  readonly id: Uint8Array;
  readonly key: Uint8Array;
}

/**
 * Seals and opens tickets with AES-256-GCM. The first secret encrypts; all
 * secrets decrypt, so keys can be rotated by prepending a new one. Each
 * secret (at least 16 bytes) is run through HKDF-Extract so any
 * high-entropy byte string will do; its key id is a hash prefix.
 */
export class TicketProtector {
  private readonly keys: TicketKey[];

  constructor(secrets: readonly Uint8Array[]) {
    if (secrets.length === 0) throw new TsquicError("ERR_TLS_CONFIG", "ticketKeys is empty");
    this.keys = secrets.map((s) => {
      if (s.length < 16) throw new TsquicError("ERR_TLS_CONFIG", "a ticket key must have at least 16 bytes");
      const key = hkdfExtract("sha256", new TextEncoder().encode("tsquic ticket key"), s);
      const id = new Uint8Array(createHash("sha256").update(key).digest().subarray(0, KEY_ID_LENGTH));
      return { id, key };
    });
  }

  /** Encrypts `state` into an opaque ticket. `iv` must be 12 fresh random bytes. */
  seal(state: TicketState, iv: Uint8Array): Uint8Array {
    const w = new ByteWriter(256);
    w.u8(TICKET_FORMAT);
    w.u16(state.suite.id);
    w.vec(1, state.psk);
    writeOptString(w, state.alpnProtocol);
    writeOptString(w, state.serverName);
    w.u32(state.ageAdd);
    writeU64(w, state.issuedAt);
    w.u32(state.lifetime);
    w.u32(state.maxEarlyDataSize);
    w.vec(2, state.appData ?? new Uint8Array(0));
    const k = this.keys[0]!;
    const c = createCipheriv("aes-256-gcm", k.key, iv);
    c.setAAD(k.id);
    const body = Buffer.concat([c.update(w.view()), c.final()]);
    return concatBytes(k.id, iv, body, c.getAuthTag());
  }

  /** Decrypts a ticket; undefined for an unknown key, a forged ticket or a malformed body. */
  open(ticket: Uint8Array): TicketState | undefined {
    if (ticket.length < KEY_ID_LENGTH + IV_LENGTH + TAG_LENGTH + 1) return undefined;
    const id = ticket.subarray(0, KEY_ID_LENGTH);
    const k = this.keys.find((k) => k.id.every((b, i) => b === id[i]));
    if (!k) return undefined;
    const iv = ticket.subarray(KEY_ID_LENGTH, KEY_ID_LENGTH + IV_LENGTH);
    const tag = ticket.subarray(ticket.length - TAG_LENGTH);
    let plain: Uint8Array;
    try {
      const d = createDecipheriv("aes-256-gcm", k.key, iv);
      d.setAAD(k.id);
      d.setAuthTag(tag);
      plain = new Uint8Array(Buffer.concat([d.update(ticket.subarray(KEY_ID_LENGTH + IV_LENGTH, ticket.length - TAG_LENGTH)), d.final()]));
    } catch {
      return undefined;
    }
    try {
      const r = new ByteReader(plain);
      if (r.u8() !== TICKET_FORMAT) return undefined;
      const suite = findCipherSuite(r.u16());
      if (!suite) return undefined;
      const psk = r.vec8().slice();
      const alpnProtocol = readOptString(r);
      const serverName = readOptString(r);
      const ageAdd = r.u32();
      const issuedAt = readU64(r);
      const lifetime = r.u32();
      const maxEarlyDataSize = r.u32();
      const appData = r.vec16().slice();
      r.expectEnd("ticket");
      return {
        suite,
        psk,
        ageAdd,
        issuedAt,
        lifetime,
        maxEarlyDataSize,
        ...(alpnProtocol !== undefined ? { alpnProtocol } : {}),
        ...(serverName !== undefined ? { serverName } : {}),
        ...(appData.length ? { appData } : {}),
      };
    } catch {
      return undefined;
    }
  }
}
