/**
 * Frame encoders (RFC 9000 section 19, RFC 9221 section 4, ack-frequency
 * draft sections 4-5), in two forms: allocation-free writers into a
 * caller's Uint8Array at an offset (`put*`, for the packet builder) and
 * convenient {@link ByteWriter} / fresh-array ones. Size helpers let the
 * connection fill a packet exactly.
 *
 * Encoders throw RangeError for values the caller should never produce
 * (a varint above 2^62-1, a connection ID of 21 bytes, ...): those are bugs
 * on our side, unlike the peer's malformed input that the decoders reject
 * with transport errors.
 */
import { ByteWriter } from "../../util/bytes.js";
import { VARINT_MAX } from "../varint.js";
import { ackFromFrame } from "./ack.js";
import {
  FrameType,
  MAX_CONNECTION_ID_LENGTH,
  PATH_DATA_LENGTH,
  STREAM_BIT_FIN,
  STREAM_BIT_LEN,
  STREAM_BIT_OFF,
  type ConnectionCloseFrame,
  type Frame,
} from "./types.js";
import { checkSpace, endsPastMax, MAX_STREAMS_LIMIT, p8, pb, pv, putV, roomBelowMax, STATELESS_RESET_TOKEN_LENGTH, vlen } from "./wire.js";

function need(ok: boolean, what: string): void {
  if (!ok) throw new RangeError(what);
}

/**
 * Writes (or, with `buf` null, measures) `f` at `o`; returns the end offset.
 * `last` marks the last frame of a packet: STREAM and DATAGRAM then omit
 * their Length field and run to the end of the packet (RFC 9000 section
 * 19.8, RFC 9221 section 4).
 */
function encodeInto(buf: Uint8Array | null, o: number, f: Frame, last: boolean): number {
  switch (f.type) {
    case "padding":
      need(Number.isInteger(f.length) && f.length >= 1, `PADDING length ${f.length} must be at least 1`);
      if (buf !== null) buf.fill(0, o, o + f.length);
      return o + f.length;
    case "ping":
      return p8(buf, o, FrameType.PING);
    case "ack":
      return ackFromFrame(buf, o, f);
    case "reset_stream":
      o = p8(buf, o, FrameType.RESET_STREAM);
      o = pv(buf, o, f.streamId);
      o = pv(buf, o, f.errorCode);
      return pv(buf, o, f.finalSize);
    case "stop_sending":
      o = p8(buf, o, FrameType.STOP_SENDING);
      o = pv(buf, o, f.streamId);
      return pv(buf, o, f.errorCode);
    case "crypto":
      need(!endsPastMax(f.offset, f.data.length), "CRYPTO offset + length exceeds 2^62-1");
      o = p8(buf, o, FrameType.CRYPTO);
      o = pv(buf, o, f.offset);
      o = pv(buf, o, f.data.length);
      return pb(buf, o, f.data);
    case "new_token":
      need(f.token.length > 0, "NEW_TOKEN token must not be empty (RFC 9000 section 19.7)");
      o = p8(buf, o, FrameType.NEW_TOKEN);
      o = pv(buf, o, f.token.length);
      return pb(buf, o, f.token);
    case "stream": {
      need(!endsPastMax(f.offset, f.data.length), "STREAM offset + length exceeds 2^62-1");
      let t = FrameType.STREAM | (f.fin ? STREAM_BIT_FIN : 0);
      if (f.offset !== 0) t |= STREAM_BIT_OFF;
      if (!last) t |= STREAM_BIT_LEN;
      o = p8(buf, o, t);
      o = pv(buf, o, f.streamId);
      if (f.offset !== 0) o = pv(buf, o, f.offset);
      if (!last) o = pv(buf, o, f.data.length);
      return pb(buf, o, f.data);
    }
    case "max_data":
      o = p8(buf, o, FrameType.MAX_DATA);
      return pv(buf, o, f.maximum);
    case "max_stream_data":
      o = p8(buf, o, FrameType.MAX_STREAM_DATA);
      o = pv(buf, o, f.streamId);
      return pv(buf, o, f.maximum);
    case "max_streams":
      need(f.maximum <= MAX_STREAMS_LIMIT, "MAX_STREAMS above 2^60 (RFC 9000 section 19.11)");
      o = p8(buf, o, f.bidi ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI);
      return pv(buf, o, f.maximum);
    case "data_blocked":
      o = p8(buf, o, FrameType.DATA_BLOCKED);
      return pv(buf, o, f.limit);
    case "stream_data_blocked":
      o = p8(buf, o, FrameType.STREAM_DATA_BLOCKED);
      o = pv(buf, o, f.streamId);
      return pv(buf, o, f.limit);
    case "streams_blocked":
      need(f.limit <= MAX_STREAMS_LIMIT, "STREAMS_BLOCKED above 2^60 (RFC 9000 section 19.14)");
      o = p8(buf, o, f.bidi ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI);
      return pv(buf, o, f.limit);
    case "new_connection_id": {
      const n = f.connectionId.length;
      need(n >= 1 && n <= MAX_CONNECTION_ID_LENGTH, `NEW_CONNECTION_ID connection ID length ${n} outside 1..20`);
      need(f.statelessResetToken.length === STATELESS_RESET_TOKEN_LENGTH, "stateless reset token must be 16 bytes");
      need(f.retirePriorTo <= f.sequence, "Retire Prior To must not exceed Sequence Number (RFC 9000 section 19.15)");
      o = p8(buf, o, FrameType.NEW_CONNECTION_ID);
      o = pv(buf, o, f.sequence);
      o = pv(buf, o, f.retirePriorTo);
      o = p8(buf, o, n);
      o = pb(buf, o, f.connectionId);
      return pb(buf, o, f.statelessResetToken);
    }
    case "retire_connection_id":
      o = p8(buf, o, FrameType.RETIRE_CONNECTION_ID);
      return pv(buf, o, f.sequence);
    case "path_challenge":
    case "path_response":
      need(f.data.length === PATH_DATA_LENGTH, "PATH_CHALLENGE / PATH_RESPONSE data must be 8 bytes");
      o = p8(buf, o, f.type === "path_challenge" ? FrameType.PATH_CHALLENGE : FrameType.PATH_RESPONSE);
      return pb(buf, o, f.data);
    case "connection_close":
      o = p8(buf, o, f.application ? FrameType.CONNECTION_CLOSE_APP : FrameType.CONNECTION_CLOSE);
      o = pv(buf, o, f.errorCode);
      if (!f.application) o = pv(buf, o, f.frameType);
      o = pv(buf, o, f.reason.length);
      return pb(buf, o, f.reason);
    case "handshake_done":
      return p8(buf, o, FrameType.HANDSHAKE_DONE);
    case "datagram":
      o = p8(buf, o, last ? FrameType.DATAGRAM : FrameType.DATAGRAM_LEN);
      if (!last) o = pv(buf, o, f.data.length);
      return pb(buf, o, f.data);
    case "ack_frequency":
      o = pv(buf, o, FrameType.ACK_FREQUENCY); // 0xaf is a two-byte varint: 0x40 0xaf
      o = pv(buf, o, f.sequence);
      o = pv(buf, o, f.ackElicitingThreshold);
      o = pv(buf, o, f.requestMaxAckDelay);
      return pv(buf, o, f.reorderingThreshold);
    case "immediate_ack":
      return p8(buf, o, FrameType.IMMEDIATE_ACK);
  }
}

/**
 * Encoded size of `frame`. With `lastInPacket`, STREAM and DATAGRAM frames
 * are measured without their Length field.
 */
export function frameSize(frame: Frame, lastInPacket = false): number {
  return encodeInto(null, 0, frame, lastInPacket);
}

/**
 * Writes `frame` into `buf` at `offset` without allocating and returns the
 * offset after it; RangeError if it does not fit. With `lastInPacket`,
 * STREAM and DATAGRAM frames omit their Length field and must end the
 * packet payload.
 */
export function putFrame(buf: Uint8Array, offset: number, frame: Frame, lastInPacket = false): number {
  checkSpace(buf, offset, encodeInto(null, 0, frame, lastInPacket));
  return encodeInto(buf, offset, frame, lastInPacket);
}

// Reused staging area for the ByteWriter path, grown on demand.
let scratch = new Uint8Array(2048);

/** Appends `frame` to `w` (see {@link putFrame} for `lastInPacket`). */
export function writeFrame(w: ByteWriter, frame: Frame, lastInPacket = false): void {
  const n = encodeInto(null, 0, frame, lastInPacket);
  if (n > scratch.length) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  encodeInto(scratch, 0, frame, lastInPacket);
  w.bytes(scratch.subarray(0, n));
}

/** `frame` encoded in a new array (see {@link putFrame} for `lastInPacket`). */
export function encodeFrame(frame: Frame, lastInPacket = false): Uint8Array {
  const out = new Uint8Array(encodeInto(null, 0, frame, lastInPacket));
  encodeInto(out, 0, frame, lastInPacket);
  return out;
}

/** A packet payload of `frames`, each with explicit lengths (so any order decodes). */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  let n = 0;
  for (const f of frames) n = encodeInto(null, n, f, false);
  const out = new Uint8Array(n);
  let o = 0;
  for (const f of frames) o = encodeInto(out, o, f, false);
  return out;
}

// ---------------------------------------------------------------------------
// STREAM (RFC 9000 section 19.8): header writers and sizes for the packet builder.

/** Size of a STREAM frame's header (type, Stream ID, Offset when non-zero, Length when `withLength`). */
export function streamFrameHeaderSize(streamId: number, offset: number, length: number, withLength = true): number {
  return 1 + vlen(streamId) + (offset !== 0 ? vlen(offset) : 0) + (withLength ? vlen(length) : 0);
}

/** Size of a whole STREAM frame carrying `length` bytes of data. */
export function streamFrameSize(streamId: number, offset: number, length: number, withLength = true): number {
  return streamFrameHeaderSize(streamId, offset, length, withLength) + length;
}

/** Largest `n` with `n + varintLength(n) <= avail`: the payload that fits beside its own Length field. */
function maxWithLength(avail: number): number {
  let best = -1;
  // For each Length size L the payload can be up to min(avail - L, largest value of L bytes).
  for (let i = 0; i < 4; i++) {
    const n = Math.min(avail - LEN_SIZES[i]!, LEN_CAPS[i]!);
    if (n > best) best = n;
  }
  return best;
}

/** Varint sizes and the largest value each holds (RFC 9000 section 16). */
const LEN_SIZES = [1, 2, 4, 8];
const LEN_CAPS = [0x3f, 0x3fff, 0x3fffffff, VARINT_MAX];

/**
 * The most STREAM data bytes that fit in a frame of at most `space` bytes
 * for this stream and offset (the Length field's own size included when
 * `withLength`), capped so that offset + length stays within 2^62-1.
 * Returns -1 when not even an empty frame fits.
 */
export function maxStreamDataLength(space: number, streamId: number, offset: number, withLength = true): number {
  const header = 1 + vlen(streamId) + (offset !== 0 ? vlen(offset) : 0);
  const avail = space - header;
  if (avail < 0) return -1;
  const n = withLength ? maxWithLength(avail) : avail;
  return Math.min(n, roomBelowMax(offset));
}

/**
 * Writes a STREAM frame header announcing `length` data bytes into `buf` at
 * `offset`; the caller places the data right after it (e.g. straight from
 * the send buffer). Returns the offset where the data goes. Without
 * `withLength` the data must run to the end of the packet payload.
 */
export function putStreamFrameHeader(
  buf: Uint8Array,
  offset: number,
  streamId: number,
  streamOffset: number,
  length: number,
  fin: boolean,
  withLength = true,
): number {
  const header = streamFrameHeaderSize(streamId, streamOffset, length, withLength);
  if (endsPastMax(streamOffset, length)) throw new RangeError("STREAM offset + length exceeds 2^62-1");
  checkSpace(buf, offset, header + length);
  let t = FrameType.STREAM | (fin ? STREAM_BIT_FIN : 0);
  if (streamOffset !== 0) t |= STREAM_BIT_OFF;
  if (withLength) t |= STREAM_BIT_LEN;
  buf[offset] = t;
  let o = putV(buf, offset + 1, streamId, vlen(streamId));
  if (streamOffset !== 0) o = putV(buf, o, streamOffset, vlen(streamOffset));
  if (withLength) o = putV(buf, o, length, vlen(length));
  return o;
}

/** Writes a whole STREAM frame (header and a copy of `data`); returns the offset after it. */
export function putStreamFrame(
  buf: Uint8Array,
  offset: number,
  streamId: number,
  streamOffset: number,
  data: Uint8Array,
  fin: boolean,
  withLength = true,
): number {
  const o = putStreamFrameHeader(buf, offset, streamId, streamOffset, data.length, fin, withLength);
  buf.set(data, o);
  return o + data.length;
}

// ---------------------------------------------------------------------------
// CRYPTO (RFC 9000 section 19.6).

/** Size of a CRYPTO frame's header (type, Offset, Length). */
export function cryptoFrameHeaderSize(offset: number, length: number): number {
  return 1 + vlen(offset) + vlen(length);
}

/** The most CRYPTO data bytes that fit in a frame of at most `space` bytes at `offset`; -1 if none fits. */
export function maxCryptoDataLength(space: number, offset: number): number {
  const avail = space - 1 - vlen(offset);
  if (avail < 0) return -1;
  return Math.min(maxWithLength(avail), roomBelowMax(offset));
}

/** Writes a CRYPTO frame header for `length` bytes at `offset`; returns where the data goes. */
export function putCryptoFrameHeader(buf: Uint8Array, offset: number, cryptoOffset: number, length: number): number {
  const header = cryptoFrameHeaderSize(cryptoOffset, length);
  if (endsPastMax(cryptoOffset, length)) throw new RangeError("CRYPTO offset + length exceeds 2^62-1");
  checkSpace(buf, offset, header + length);
  buf[offset] = FrameType.CRYPTO;
  const o = putV(buf, offset + 1, cryptoOffset, vlen(cryptoOffset));
  return putV(buf, o, length, vlen(length));
}

/** Writes a whole CRYPTO frame; returns the offset after it. */
export function putCryptoFrame(buf: Uint8Array, offset: number, cryptoOffset: number, data: Uint8Array): number {
  const o = putCryptoFrameHeader(buf, offset, cryptoOffset, data.length);
  buf.set(data, o);
  return o + data.length;
}

// ---------------------------------------------------------------------------
// DATAGRAM (RFC 9221 section 4).

/** Size of a DATAGRAM frame carrying `length` bytes: what max_datagram_frame_size limits (RFC 9221 section 3). */
export function datagramFrameSize(length: number, withLength = true): number {
  return 1 + (withLength ? vlen(length) : 0) + length;
}

/** The most DATAGRAM payload bytes that fit in a frame of at most `space` bytes; -1 if none fits. */
export function maxDatagramDataLength(space: number, withLength = true): number {
  const avail = space - 1;
  if (avail < 0) return -1;
  return withLength ? maxWithLength(avail) : avail;
}

/** Writes a DATAGRAM frame (type 0x31 with Length, 0x30 running to the packet end); returns the offset after it. */
export function putDatagramFrame(buf: Uint8Array, offset: number, data: Uint8Array, withLength = true): number {
  checkSpace(buf, offset, datagramFrameSize(data.length, withLength));
  buf[offset] = withLength ? FrameType.DATAGRAM_LEN : FrameType.DATAGRAM;
  let o = offset + 1;
  if (withLength) o = putV(buf, o, data.length, vlen(data.length));
  buf.set(data, o);
  return o + data.length;
}

// ---------------------------------------------------------------------------
// PADDING (RFC 9000 section 19.1).

/** Fills `length` bytes at `offset` with PADDING frames (zero bytes); returns the offset after them. */
export function putPadding(buf: Uint8Array, offset: number, length: number): number {
  checkSpace(buf, offset, length);
  buf.fill(0, offset, offset + length);
  return offset + length;
}

// ---------------------------------------------------------------------------
// CONNECTION_CLOSE builders (RFC 9000 section 19.19).

const utf8 = new TextEncoder();

/** A CONNECTION_CLOSE of type 0x1c for a transport error, with the triggering frame type (0 when unknown). */
export function transportCloseFrame(errorCode: number, reason = "", frameType = 0): ConnectionCloseFrame {
  return { type: "connection_close", application: false, errorCode, frameType, reason: utf8.encode(reason) };
}

/** A CONNECTION_CLOSE of type 0x1d for an application error. */
export function applicationCloseFrame(errorCode: number, reason = ""): ConnectionCloseFrame {
  return { type: "connection_close", application: true, errorCode, frameType: 0, reason: utf8.encode(reason) };
}

/** The reason phrase of a CONNECTION_CLOSE as text; invalid UTF-8 becomes U+FFFD (the phrase is only diagnostic). */
export function closeReasonText(frame: ConnectionCloseFrame): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(frame.reason);
}
