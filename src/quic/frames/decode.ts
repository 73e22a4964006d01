/**
 * Frame decoders (RFC 9000 sections 12.4 and 19, RFC 9221 section 4,
 * draft-ietf-quic-ack-frequency sections 4-5).
 *
 * Every malformed input ends in a {@link QuicTransportError} carrying the
 * transport error code and the frame type: FRAME_ENCODING_ERROR for a frame
 * that cannot be decoded or an unknown frame type, PROTOCOL_VIOLATION for a
 * frame in a packet type that may not carry it or a frame type in a longer
 * encoding than necessary. Reads go through the bounds-checked
 * {@link ByteReader}, so nothing is read past the end and no buffer is sized
 * by a length that has not been checked against the bytes present.
 */
import { ByteReader } from "../../util/bytes.js";
import { DecodeError } from "../../util/errors.js";
import { QuicTransportError, TransportErrorCode } from "../errors.js";
import { readVarint } from "../varint.js";
import { MAX_STREAMS_LIMIT, STATELESS_RESET_TOKEN_LENGTH, varintBigAt } from "./wire.js";
import { frameAllowedIn, frameTypeFlags } from "./rules.js";
import {
  FrameType,
  MAX_CONNECTION_ID_LENGTH,
  PATH_DATA_LENGTH,
  STREAM_BIT_FIN,
  STREAM_BIT_LEN,
  STREAM_BIT_OFF,
  frameTypeName,
  type AckFrame,
  type Frame,
  type HandshakeDoneFrame,
  type ImmediateAckFrame,
  type PingFrame,
} from "./types.js";
import type { PacketType } from "../packet/header.js";

/**
 * What the receiving endpoint advertised, which decides how extension frames
 * are treated. Pass the same object for every packet (no per-packet allocation).
 */
export interface FrameParseOptions {
  /**
   * The max_datagram_frame_size we advertised (RFC 9221 section 3). 0 means
   * DATAGRAM is not supported and its receipt is a PROTOCOL_VIOLATION; a
   * DATAGRAM frame larger than this is also a PROTOCOL_VIOLATION. Default:
   * no limit (the codec accepts DATAGRAM).
   */
  maxDatagramFrameSize?: number;
  /**
   * Whether we advertised min_ack_delay (ack-frequency draft section 3).
   * When false, ACK_FREQUENCY and IMMEDIATE_ACK are unknown frame types
   * (FRAME_ENCODING_ERROR, RFC 9000 section 12.4). Default: true.
   */
  ackFrequency?: boolean;
}

/** Receives each decoded frame of a packet, in order. */
export type FrameHandler = (frame: Frame) => void;

// Frames without fields are shared: nothing to allocate for them.
const PING: PingFrame = Object.freeze({ type: "ping" });
const HANDSHAKE_DONE: HandshakeDoneFrame = Object.freeze({ type: "handshake_done" });
const IMMEDIATE_ACK: ImmediateAckFrame = Object.freeze({ type: "immediate_ack" });

/** Largest Requested Max Ack Delay, in microseconds: max_ack_delay must be below 2^14 ms (ack-frequency draft section 4). */
const MAX_REQUEST_ACK_DELAY_US = 2 ** 14 * 1000;

function frameError(frameType: number, reason: string): QuicTransportError {
  return new QuicTransportError(TransportErrorCode.FRAME_ENCODING_ERROR, `${frameTypeName(frameType)}: ${reason}`, frameType);
}

function protocolViolation(frameType: number, reason: string): QuicTransportError {
  return new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, `${frameTypeName(frameType)}: ${reason}`, frameType);
}

/** Turns a truncation from the byte reader into the frame's FRAME_ENCODING_ERROR; passes QUIC errors through. */
function asFrameError(e: unknown, frameType: number): unknown {
  if (e instanceof DecodeError) return frameError(frameType, e.message);
  return e;
}

/** Numbers from 2^53 up may be rounded: limit checks there re-read the exact value. */
const EXACT_LIMIT = 2 ** 53;
const MAX_STREAMS_BIG = 1n << 60n;
const VARINT_MAX_BIG = (1n << 62n) - 1n;

/** offset + length > 2^62-1, exactly; `offsetPos` is where the Offset field is (ignored when `offset` is 0). */
function exceedsVarintMax(bytes: Uint8Array, offsetPos: number, offset: number, length: number): boolean {
  const exactOffset = offset === 0 ? 0n : varintBigAt(bytes, offsetPos);
  return exactOffset + BigInt(length) > VARINT_MAX_BIG;
}

/** Shortest varint length for `v` without throwing on rounded 2^62 values. */
function minimalLength(v: number): number {
  return v < 0x40 ? 1 : v < 0x4000 ? 2 : v < 0x40000000 ? 4 : 8;
}

/**
 * Reads a frame type. RFC 9000 section 12.4: "a frame type MUST use the
 * shortest possible encoding"; an endpoint MAY treat a longer one as a
 * PROTOCOL_VIOLATION, which we do.
 */
function readFrameType(r: ByteReader): number {
  r.need(1);
  const first = r.bytes[r.offset]!;
  if (first < 0x40) {
    // A first byte below 0x40 is a whole one-byte varint, minimal by construction: the common fast path.
    r.offset++;
    return first;
  }
  const start = r.offset;
  const t = readVarint(r);
  if (r.offset - start > minimalLength(t)) {
    throw protocolViolation(t, `frame type encoded in ${r.offset - start} bytes instead of ${minimalLength(t)} (RFC 9000 section 12.4)`);
  }
  return t;
}

/** True when `frameType` is a type this decoder understands under `options`. */
function isKnownType(frameType: number, options: FrameParseOptions | undefined): boolean {
  if (frameType <= FrameType.HANDSHAKE_DONE) return true;
  if (frameType === FrameType.DATAGRAM || frameType === FrameType.DATAGRAM_LEN) return true;
  if (frameType === FrameType.IMMEDIATE_ACK || frameType === FrameType.ACK_FREQUENCY) return options?.ackFrequency !== false;
  return false;
}

/** ACK and ACK_ECN body (RFC 9000 sections 19.3, 19.3.1, 19.3.2). */
function parseAck(r: ByteReader, frameType: number): AckFrame {
  const largest = readVarint(r);
  const ackDelay = readVarint(r);
  const rangeCount = readVarint(r);
  const firstRange = readVarint(r);
  // RFC 9000 section 19.3.1: a computed packet number below zero is a FRAME_ENCODING_ERROR.
  if (firstRange > largest) throw frameError(frameType, `First ACK Range ${firstRange} exceeds Largest Acknowledged ${largest}`);
  // Each ACK Range takes at least two bytes: refuse absurd counts before looping.
  if (rangeCount > r.remaining / 2) throw frameError(frameType, `ACK Range Count ${rangeCount} exceeds the bytes present`);
  let smallest = largest - firstRange;
  const ranges: number[] = [largest, smallest];
  for (let i = 0; i < rangeCount; i++) {
    const gap = readVarint(r);
    const length = readVarint(r);
    // largest = previous_smallest - gap - 2 (RFC 9000 section 19.3.1).
    const hi = smallest - gap - 2;
    if (hi < 0) throw frameError(frameType, `ACK Range ${i} gap goes below packet number 0`);
    const lo = hi - length;
    if (lo < 0) throw frameError(frameType, `ACK Range ${i} goes below packet number 0`);
    ranges.push(hi, lo);
    smallest = lo;
  }
  let ecn = null;
  if (frameType === FrameType.ACK_ECN) {
    const ect0 = readVarint(r);
    const ect1 = readVarint(r);
    const ce = readVarint(r);
    ecn = { ect0, ect1, ce };
  }
  return { type: "ack", largest, ackDelay, ranges, ecn };
}

/**
 * Decodes the body of a frame whose type has been read. Throws
 * DecodeError on truncation (the callers convert it) and QuicTransportError
 * for every other rule.
 */
function parseBody(r: ByteReader, t: number, options: FrameParseOptions | undefined): Frame {
  // STREAM 0x08-0x0f first: the hot path (RFC 9000 section 19.8).
  if ((t & ~0x07) === FrameType.STREAM) {
    const streamId = readVarint(r);
    const offsetPos = r.offset;
    const offset = t & STREAM_BIT_OFF ? readVarint(r) : 0;
    // Without LEN the data runs to the end of the packet.
    const length = t & STREAM_BIT_LEN ? readVarint(r) : r.remaining;
    // RFC 9000 section 19.8: offset + length above 2^62-1 is a FRAME_ENCODING_ERROR.
    if (offset + length >= EXACT_LIMIT && exceedsVarintMax(r.bytes, offsetPos, offset, length)) {
      throw frameError(t, `offset ${offset} + length ${length} exceeds 2^62-1`);
    }
    const data = r.bytesView(length);
    return { type: "stream", streamId, offset, data, fin: (t & STREAM_BIT_FIN) !== 0 };
  }
  switch (t) {
    case FrameType.PADDING: {
      // RFC 9000 section 19.1: collapse the whole run into one result.
      const b = r.bytes;
      const end = r.end;
      let o = r.offset;
      while (o < end && b[o] === 0) o++;
      const length = o - r.offset + 1;
      r.offset = o;
      return { type: "padding", length };
    }
    case FrameType.PING:
      return PING;
    case FrameType.ACK:
    case FrameType.ACK_ECN:
      return parseAck(r, t);
    case FrameType.RESET_STREAM: {
      const streamId = readVarint(r);
      const errorCode = readVarint(r);
      const finalSize = readVarint(r);
      return { type: "reset_stream", streamId, errorCode, finalSize };
    }
    case FrameType.STOP_SENDING: {
      const streamId = readVarint(r);
      const errorCode = readVarint(r);
      return { type: "stop_sending", streamId, errorCode };
    }
    case FrameType.CRYPTO: {
      const offsetPos = r.offset;
      const offset = readVarint(r);
      const length = readVarint(r);
      // RFC 9000 section 19.6: offset + length above 2^62-1 is FRAME_ENCODING_ERROR (or CRYPTO_BUFFER_EXCEEDED).
      if (offset + length >= EXACT_LIMIT && exceedsVarintMax(r.bytes, offsetPos, offset, length)) {
        throw frameError(t, `offset ${offset} + length ${length} exceeds 2^62-1`);
      }
      return { type: "crypto", offset, data: r.bytesView(length) };
    }
    case FrameType.NEW_TOKEN: {
      const length = readVarint(r);
      // RFC 9000 section 19.7: an empty token is a FRAME_ENCODING_ERROR.
      if (length === 0) throw frameError(t, "empty token");
      return { type: "new_token", token: r.bytesCopy(length) };
    }
    case FrameType.MAX_DATA:
      return { type: "max_data", maximum: readVarint(r) };
    case FrameType.MAX_STREAM_DATA: {
      const streamId = readVarint(r);
      return { type: "max_stream_data", streamId, maximum: readVarint(r) };
    }
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI: {
      const pos = r.offset;
      const maximum = readVarint(r);
      // RFC 9000 section 19.11: more than 2^60 streams is a FRAME_ENCODING_ERROR.
      if (maximum >= MAX_STREAMS_LIMIT && varintBigAt(r.bytes, pos) > MAX_STREAMS_BIG) throw frameError(t, `Maximum Streams ${maximum} exceeds 2^60`);
      return { type: "max_streams", bidi: t === FrameType.MAX_STREAMS_BIDI, maximum };
    }
    case FrameType.DATA_BLOCKED:
      return { type: "data_blocked", limit: readVarint(r) };
    case FrameType.STREAM_DATA_BLOCKED: {
      const streamId = readVarint(r);
      return { type: "stream_data_blocked", streamId, limit: readVarint(r) };
    }
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI: {
      const pos = r.offset;
      const limit = readVarint(r);
      // RFC 9000 section 19.14: above 2^60 is STREAM_LIMIT_ERROR or FRAME_ENCODING_ERROR.
      if (limit >= MAX_STREAMS_LIMIT && varintBigAt(r.bytes, pos) > MAX_STREAMS_BIG) throw frameError(t, `Maximum Streams ${limit} exceeds 2^60`);
      return { type: "streams_blocked", bidi: t === FrameType.STREAMS_BLOCKED_BIDI, limit };
    }
    case FrameType.NEW_CONNECTION_ID: {
      const seqPos = r.offset;
      const sequence = readVarint(r);
      const rptPos = r.offset;
      const retirePriorTo = readVarint(r);
      const length = r.u8();
      // RFC 9000 section 19.15: lengths outside 1..20 are a FRAME_ENCODING_ERROR.
      if (length < 1 || length > MAX_CONNECTION_ID_LENGTH) throw frameError(t, `connection ID length ${length} outside 1..20`);
      const connectionId = r.bytesCopy(length);
      const statelessResetToken = r.bytesCopy(STATELESS_RESET_TOKEN_LENGTH);
      // RFC 9000 section 19.15: Retire Prior To above Sequence Number is a FRAME_ENCODING_ERROR.
      if (retirePriorTo >= sequence && (retirePriorTo > sequence || (sequence >= EXACT_LIMIT && varintBigAt(r.bytes, rptPos) > varintBigAt(r.bytes, seqPos)))) throw frameError(t, `Retire Prior To ${retirePriorTo} exceeds Sequence Number ${sequence}`);
      return { type: "new_connection_id", sequence, retirePriorTo, connectionId, statelessResetToken };
    }
    case FrameType.RETIRE_CONNECTION_ID:
      return { type: "retire_connection_id", sequence: readVarint(r) };
    case FrameType.PATH_CHALLENGE:
      return { type: "path_challenge", data: r.bytesCopy(PATH_DATA_LENGTH) };
    case FrameType.PATH_RESPONSE:
      return { type: "path_response", data: r.bytesCopy(PATH_DATA_LENGTH) };
    case FrameType.CONNECTION_CLOSE:
    case FrameType.CONNECTION_CLOSE_APP: {
      const errorCode = readVarint(r);
      // Only the transport variant (0x1c) carries the triggering frame type (RFC 9000 section 19.19).
      const frameType = t === FrameType.CONNECTION_CLOSE ? readVarint(r) : 0;
      const length = readVarint(r);
      const reason = r.bytesCopy(length);
      return { type: "connection_close", application: t === FrameType.CONNECTION_CLOSE_APP, errorCode, frameType, reason };
    }
    case FrameType.HANDSHAKE_DONE:
      return HANDSHAKE_DONE;
    case FrameType.DATAGRAM:
    case FrameType.DATAGRAM_LEN: {
      const max = options?.maxDatagramFrameSize;
      // RFC 9221 section 3: DATAGRAM without having advertised support is a PROTOCOL_VIOLATION.
      if (max === 0) throw protocolViolation(t, "DATAGRAM received but max_datagram_frame_size was not advertised");
      const bodyStart = r.offset;
      const length = t === FrameType.DATAGRAM_LEN ? readVarint(r) : r.remaining;
      const data = r.bytesView(length);
      // RFC 9221 section 3: the limit covers type, length and payload; above it is a PROTOCOL_VIOLATION.
      const size = 1 + (r.offset - bodyStart);
      if (max !== undefined && size > max) throw protocolViolation(t, `DATAGRAM frame of ${size} bytes exceeds max_datagram_frame_size ${max}`);
      return { type: "datagram", data };
    }
    case FrameType.IMMEDIATE_ACK:
      if (options?.ackFrequency === false) break;
      return IMMEDIATE_ACK;
    case FrameType.ACK_FREQUENCY: {
      if (options?.ackFrequency === false) break;
      const sequence = readVarint(r);
      const ackElicitingThreshold = readVarint(r);
      const requestMaxAckDelay = readVarint(r);
      const reorderingThreshold = readVarint(r);
      // Ack-frequency draft section 4: a Requested Max Ack Delay of 2^14 ms or more is a PROTOCOL_VIOLATION.
      if (requestMaxAckDelay >= MAX_REQUEST_ACK_DELAY_US) throw protocolViolation(t, `Requested Max Ack Delay ${requestMaxAckDelay}us is 2^14 ms or more`);
      return { type: "ack_frequency", sequence, ackElicitingThreshold, requestMaxAckDelay, reorderingThreshold };
    }
  }
  // RFC 9000 section 12.4: an unknown frame type is a FRAME_ENCODING_ERROR.
  throw frameError(t, "unknown frame type");
}

/**
 * Decodes one frame at the reader's position and advances past it. Does not
 * check the packet type (see {@link parseFrames}). Throws
 * {@link QuicTransportError} with FRAME_ENCODING_ERROR (malformed or unknown
 * frame) or PROTOCOL_VIOLATION (non-minimal frame type, DATAGRAM not allowed,
 * invalid ACK_FREQUENCY delay), with the frame type set.
 */
export function parseFrame(r: ByteReader, options?: FrameParseOptions): Frame {
  let t = 0;
  try {
    t = readFrameType(r);
    return parseBody(r, t, options);
  } catch (e) {
    throw asFrameError(e, t);
  }
}

/**
 * Decodes every frame of a packet payload in order and hands each to
 * `onFrame`, checking that the packet type may carry it (RFC 9000 section
 * 12.4 Table 3 and section 12.5: PROTOCOL_VIOLATION otherwise). An empty
 * payload is a PROTOCOL_VIOLATION (RFC 9000 section 12.4).
 *
 * Returns the OR of the frames' {@link frameTypeFlags}: whether the packet
 * is ack-eliciting, counts in flight and carries non-probing frames.
 * Errors thrown by `onFrame` propagate unchanged.
 */
export function parseFrames(
  payload: Uint8Array,
  packetType: PacketType,
  onFrame: FrameHandler,
  options?: FrameParseOptions,
): number {
  if (payload.length === 0) {
    throw new QuicTransportError(TransportErrorCode.PROTOCOL_VIOLATION, "packet payload contains no frames (RFC 9000 section 12.4)");
  }
  const r = new ByteReader(payload);
  let flags = 0;
  while (r.offset < r.end) {
    let t = 0;
    let frame: Frame;
    try {
      t = readFrameType(r);
      if (!frameAllowedIn(t, packetType)) {
        // Unknown types fail as unknown, known ones as misplaced.
        if (!isKnownType(t, options)) throw frameError(t, "unknown frame type");
        throw protocolViolation(t, `not allowed in this packet type (RFC 9000 section 12.4 Table 3)`);
      }
      frame = parseBody(r, t, options);
    } catch (e) {
      throw asFrameError(e, t);
    }
    flags |= frameTypeFlags(t);
    onFrame(frame);
  }
  return flags;
}

/** Convenience form of {@link parseFrames} that returns the frames as an array. */
export function decodeFrames(payload: Uint8Array, packetType: PacketType, options?: FrameParseOptions): Frame[] {
  const out: Frame[] = [];
  parseFrames(payload, packetType, (f) => out.push(f), options);
  return out;
}
