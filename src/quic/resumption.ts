/**
 * What a client keeps from one connection to resume the next (RFC 9000
 * section 7.4.1, RFC 9001 section 4.6.1): the TLS session ticket (which
 * carries the server's transport parameters and ALPN) and the server's
 * NEW_TOKEN token (section 8.1.3), as one opaque serializable byte string,
 * and the transport-parameter rules 0-RTT lives by.
 */
import { decodeSessionTicket, encodeSessionTicket, type SessionTicket } from "../tls/ticket.js";
import { ByteReader, ByteWriter } from "../util/bytes.js";
import { DecodeError } from "../util/errors.js";
import type { StreamLimits } from "./stream/manager.js";
import type { TransportParameters } from "./transport-params.js";

/** A session to resume: the TLS ticket and, when the server sent one, its NEW_TOKEN token. */
export interface ResumptionState {
  /** The TLS session ticket, with the server's transport parameters and ALPN. */
  readonly ticket: SessionTicket;
  /** The address validation token of a NEW_TOKEN frame (RFC 9000 section 19.7). */
  readonly token?: Uint8Array;
}

/** First bytes of an encoded {@link ResumptionState} ("tsq" and a format number). */
const MAGIC = [0x74, 0x73, 0x71, 0x01];

/** Serializes a session for storage (a file, a cache); {@link decodeResumptionState} reads it back. */
export function encodeResumptionState(s: ResumptionState): Uint8Array {
  const ticket = encodeSessionTicket(s.ticket);
  const w = new ByteWriter(ticket.length + (s.token?.length ?? 0) + 16);
  for (const b of MAGIC) w.u8(b);
  w.vec(3, ticket);
  w.vec(2, s.token ?? new Uint8Array(0));
  return w.finish();
}

/**
 * Reads {@link encodeResumptionState} output, or a bare ticket from
 * `encodeSessionTicket`. Throws {@link DecodeError} when malformed.
 */
export function decodeResumptionState(bytes: Uint8Array): ResumptionState {
  if (!MAGIC.every((b, i) => bytes[i] === b)) return { ticket: decodeSessionTicket(bytes) };
  const r = new ByteReader(bytes, MAGIC.length);
  const ticket = decodeSessionTicket(r.vec24());
  const token = r.vec16();
  r.expectEnd("resumption state");
  return token.length ? { ticket, token: token.slice() } : { ticket };
}

/** A session in any of the forms the APIs accept, as a {@link ResumptionState}; undefined for bytes that are not one. */
export function toResumptionState(session: ResumptionState | SessionTicket | Uint8Array): ResumptionState | undefined {
  if (session instanceof Uint8Array) {
    try {
      return decodeResumptionState(session);
    } catch (e) {
      if (e instanceof DecodeError) return undefined;
      throw e;
    }
  }
  return "psk" in session ? { ticket: session } : session;
}

/** The stream limits of a server's transport parameters, which 0-RTT is bound by (RFC 9000 section 7.4.1). */
export function streamLimitsOf(p: TransportParameters): StreamLimits {
  return {
    initialMaxData: p.initialMaxData,
    initialMaxStreamDataBidiLocal: p.initialMaxStreamDataBidiLocal,
    initialMaxStreamDataBidiRemote: p.initialMaxStreamDataBidiRemote,
    initialMaxStreamDataUni: p.initialMaxStreamDataUni,
    initialMaxStreamsBidi: p.initialMaxStreamsBidi,
    initialMaxStreamsUni: p.initialMaxStreamsUni,
  };
}

/**
 * The parameters a server that accepts 0-RTT must not lower below the
 * remembered values (RFC 9000 section 7.4.1).
 */
export const REMEMBERED_LIMITS = [
  "activeConnectionIdLimit",
  "initialMaxData",
  "initialMaxStreamDataBidiLocal",
  "initialMaxStreamDataBidiRemote",
  "initialMaxStreamDataUni",
  "initialMaxStreamsBidi",
  "initialMaxStreamsUni",
] as const;

/** Values of {@link REMEMBERED_LIMITS}. */
export type RememberedLimits = Record<(typeof REMEMBERED_LIMITS)[number], number>;

/** The first of {@link REMEMBERED_LIMITS} that `current` sets below `remembered`, or undefined when none is lower. */
export function reducedLimit(remembered: RememberedLimits, current: RememberedLimits): string | undefined {
  return REMEMBERED_LIMITS.find((k) => current[k] < remembered[k]);
}
