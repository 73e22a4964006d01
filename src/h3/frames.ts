/**
 * HTTP/3 framing (RFC 9114 section 7): frame types, SETTINGS, the
 * unidirectional stream header (section 6.2), frame encoders, and an
 * incremental {@link FrameReader} for stream data arriving in pieces.
 */
import { ByteReader, ByteWriter, plainBytes } from "../util/bytes.js";
import { DecodeError } from "../util/errors.js";
import { putVarint, readVarint, varintLength, VARINT_MAX, writeVarint } from "../quic/varint.js";
import { H3Error, H3ErrorCode, isReservedCodepoint } from "./errors.js";

/** HTTP/3 frame types (RFC 9114 section 7.2, Table 2). */
export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
} as const;

/**
 * True for the HTTP/2 frame types with no HTTP/3 counterpart (PRIORITY 0x02,
 * PING 0x06, WINDOW_UPDATE 0x08, CONTINUATION 0x09): receiving one is
 * H3_FRAME_UNEXPECTED (RFC 9114 section 7.2.8).
 */
export function isHttp2OnlyFrameType(type: number): boolean {
  return type === 0x02 || type === 0x06 || type === 0x08 || type === 0x09;
}

/** SETTINGS identifiers (RFC 9114 section 7.2.4.1, RFC 9204 section 5, RFC 9220, RFC 9297). */
export const SettingsId = {
  /** RFC 9204 section 5; default 0. */
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  /** RFC 9114 section 7.2.4.1; default unlimited. */
  MAX_FIELD_SECTION_SIZE: 0x06,
  /** RFC 9204 section 5; default 0. */
  QPACK_BLOCKED_STREAMS: 0x07,
  /** RFC 9220 section 3 (extended CONNECT); 0 or 1. */
  ENABLE_CONNECT_PROTOCOL: 0x08,
  /** RFC 9297 section 2.1.1 (HTTP datagrams); 0 or 1. */
  H3_DATAGRAM: 0x33,
} as const;

/**
 * True for HTTP/2 setting identifiers with no HTTP/3 counterpart
 * (ENABLE_PUSH 0x02, MAX_CONCURRENT_STREAMS 0x03, INITIAL_WINDOW_SIZE 0x04,
 * MAX_FRAME_SIZE 0x05): receiving one is H3_SETTINGS_ERROR (RFC 9114
 * section 7.2.4.1).
 */
export function isHttp2OnlySetting(id: number): boolean {
  return id >= 0x02 && id <= 0x05;
}

/** Unidirectional stream types (RFC 9114 section 6.2, RFC 9204 section 4.2). */
export const StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
} as const;

/**
 * The contents of a SETTINGS frame. Absent fields take their defaults
 * (0, unlimited, false). `extra` holds every other identifier, unknown or
 * reserved (0x1f * N + 0x21), in wire order: they must be ignored on
 * receipt (RFC 9114 section 7.2.4), and a sender should include a reserved one.
 */
export interface H3Settings {
  qpackMaxTableCapacity?: number;
  maxFieldSectionSize?: number;
  qpackBlockedStreams?: number;
  enableConnectProtocol?: boolean;
  h3Datagram?: boolean;
  extra?: Array<[id: number, value: number]>;
}

/** A whole HTTP/3 frame. Reserved and unknown frame types have no variant: they are skipped. */
export type H3Frame =
  | { type: "data"; data: Uint8Array }
  | { type: "headers"; fieldSection: Uint8Array }
  | { type: "cancelPush"; pushId: number }
  | { type: "settings"; settings: H3Settings }
  | { type: "pushPromise"; pushId: number; fieldSection: Uint8Array }
  | { type: "goaway"; id: number }
  | { type: "maxPushId"; pushId: number };

/**
 * What {@link FrameReader.next} yields: whole frames, except DATA, whose
 * payload comes as pieces (views of the pushed bytes, not copies);
 * `frameEnd` marks the last piece of a frame (a zero-length DATA frame yields
 * one empty piece).
 */
export type FrameEvent = Exclude<H3Frame, { type: "data" }> | { type: "data"; data: Uint8Array; frameEnd: boolean };

/** The kind of stream frames are read from, for the rules of RFC 9114 section 7 (Table 1). */
export type FrameStreamKind = "control" | "request" | "push";

// ---------------------------------------------------------------- encoding

/** A frame header: type and payload length (RFC 9114 section 7.1). */
export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(length));
  putVarint(out, putVarint(out, 0, type), length);
  return out;
}

/** The header of a DATA frame of `length` bytes; the body is sent as is after it, without copying. */
export function encodeDataFrameHeader(length: number): Uint8Array {
  return encodeFrameHeader(FrameType.DATA, length);
}

function frameWith(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(payload.length) + payload.length);
  const o = putVarint(out, putVarint(out, 0, type), payload.length);
  out.set(payload, o);
  return out;
}

function varintFrame(type: number, v: number): Uint8Array {
  checkVarint(v);
  const n = varintLength(v);
  const out = new Uint8Array(varintLength(type) + 1 + n);
  putVarint(out, putVarint(out, putVarint(out, 0, type), n), v);
  return out;
}

function checkVarint(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > VARINT_MAX) throw new RangeError(`invalid varint value ${v}`);
}

/** A HEADERS frame carrying an encoded field section (RFC 9114 section 7.2.2). */
export function encodeHeadersFrame(fieldSection: Uint8Array): Uint8Array {
  return frameWith(FrameType.HEADERS, fieldSection);
}

/** A PUSH_PROMISE frame (RFC 9114 section 7.2.5). */
export function encodePushPromiseFrame(pushId: number, fieldSection: Uint8Array): Uint8Array {
  checkVarint(pushId);
  const w = new ByteWriter(16 + fieldSection.length);
  writeVarint(w, pushId);
  w.bytes(fieldSection);
  return frameWith(FrameType.PUSH_PROMISE, w.view());
}

/** A CANCEL_PUSH frame (RFC 9114 section 7.2.3). */
export function encodeCancelPushFrame(pushId: number): Uint8Array {
  return varintFrame(FrameType.CANCEL_PUSH, pushId);
}

/** A GOAWAY frame with a stream ID (from a server) or push ID (from a client) (RFC 9114 section 7.2.6). */
export function encodeGoawayFrame(id: number): Uint8Array {
  return varintFrame(FrameType.GOAWAY, id);
}

/** A MAX_PUSH_ID frame (RFC 9114 section 7.2.7). */
export function encodeMaxPushIdFrame(pushId: number): Uint8Array {
  return varintFrame(FrameType.MAX_PUSH_ID, pushId);
}

/**
 * The payload of a SETTINGS frame (RFC 9114 section 7.2.4). Throws a
 * RangeError for identifiers that must not be sent (HTTP/2-only ones,
 * duplicates, known identifiers in `extra`).
 */
export function encodeSettingsPayload(settings: H3Settings): Uint8Array {
  const w = new ByteWriter(32);
  const seen = new Set<number>();
  const put = (id: number, value: number): void => {
    checkVarint(id);
    checkVarint(value);
    if (isHttp2OnlySetting(id)) throw new RangeError(`setting 0x${id.toString(16)} is reserved (HTTP/2 only) and must not be sent`);
    if (seen.has(id)) throw new RangeError(`setting 0x${id.toString(16)} appears twice`);
    seen.add(id);
    writeVarint(w, id);
    writeVarint(w, value);
  };
  if (settings.qpackMaxTableCapacity !== undefined) put(SettingsId.QPACK_MAX_TABLE_CAPACITY, settings.qpackMaxTableCapacity);
  if (settings.maxFieldSectionSize !== undefined) put(SettingsId.MAX_FIELD_SECTION_SIZE, settings.maxFieldSectionSize);
  if (settings.qpackBlockedStreams !== undefined) put(SettingsId.QPACK_BLOCKED_STREAMS, settings.qpackBlockedStreams);
  if (settings.enableConnectProtocol) put(SettingsId.ENABLE_CONNECT_PROTOCOL, 1);
  if (settings.h3Datagram) put(SettingsId.H3_DATAGRAM, 1);
  for (const [id, value] of settings.extra ?? []) put(id, value);
  return w.finish();
}

/** A SETTINGS frame (RFC 9114 section 7.2.4). */
export function encodeSettingsFrame(settings: H3Settings): Uint8Array {
  return frameWith(FrameType.SETTINGS, encodeSettingsPayload(settings));
}

/** Any whole frame (DATA copies its payload: prefer {@link encodeDataFrameHeader} on the hot path). */
export function encodeFrame(frame: H3Frame): Uint8Array {
  switch (frame.type) {
    case "data":
      return frameWith(FrameType.DATA, frame.data);
    case "headers":
      return encodeHeadersFrame(frame.fieldSection);
    case "cancelPush":
      return encodeCancelPushFrame(frame.pushId);
    case "settings":
      return encodeSettingsFrame(frame.settings);
    case "pushPromise":
      return encodePushPromiseFrame(frame.pushId, frame.fieldSection);
    case "goaway":
      return encodeGoawayFrame(frame.id);
    case "maxPushId":
      return encodeMaxPushIdFrame(frame.pushId);
  }
}

/**
 * A reserved frame (type 0x1f * N + 0x21) with `payload`, for greasing
 * (RFC 9114 section 7.2.8).
 */
export function encodeReservedFrame(n: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return frameWith(0x1f * n + 0x21, payload);
}

/**
 * The header of a unidirectional stream (RFC 9114 section 6.2): its type,
 * and for a push stream the push ID (section 6.2.2).
 */
export function encodeStreamHeader(streamType: number, pushId?: number): Uint8Array {
  checkVarint(streamType);
  if (streamType === StreamType.PUSH) {
    if (pushId === undefined) throw new RangeError("a push stream header needs a push ID");
    checkVarint(pushId);
    const out = new Uint8Array(varintLength(streamType) + varintLength(pushId));
    putVarint(out, putVarint(out, 0, streamType), pushId);
    return out;
  }
  const out = new Uint8Array(varintLength(streamType));
  putVarint(out, 0, streamType);
  return out;
}

// ---------------------------------------------------------------- decoding

/** True for reserved stream types 0x1f * N + 0x21 (RFC 9114 section 6.2.3). */
export function isReservedStreamType(type: number): boolean {
  return isReservedCodepoint(type);
}

/** True for reserved frame types 0x1f * N + 0x21 (RFC 9114 section 7.2.8). */
export function isReservedFrameType(type: number): boolean {
  return isReservedCodepoint(type);
}

/**
 * Reads a unidirectional stream header from the first bytes of a stream
 * (RFC 9114 section 6.2): the type, the push ID for push streams, and how
 * many bytes it took. Returns undefined while more bytes are needed.
 */
export function readStreamHeader(bytes: Uint8Array): { streamType: number; pushId?: number; length: number } | undefined {
  const b = plainBytes(bytes);
  if (b.length === 0) return undefined;
  const n1 = 1 << (b[0]! >> 6);
  if (b.length < n1) return undefined;
  const r = new ByteReader(b);
  const streamType = readVarint(r);
  if (streamType !== StreamType.PUSH) return { streamType, length: n1 };
  if (b.length < n1 + 1) return undefined;
  const n2 = 1 << (b[n1]! >> 6);
  if (b.length < n1 + n2) return undefined;
  return { streamType, pushId: readVarint(r), length: n1 + n2 };
}

function frameError(what: string): H3Error {
  return new H3Error(H3ErrorCode.H3_FRAME_ERROR, what);
}

/** Reads exactly one varint filling `payload`; anything else is H3_FRAME_ERROR (RFC 9114 section 7.1). */
function singleVarint(payload: Uint8Array, what: string): number {
  const r = new ByteReader(payload);
  let v: number;
  try {
    v = readVarint(r);
  } catch {
    throw frameError(`truncated ${what} frame`);
  }
  if (!r.done) throw frameError(`${r.remaining} extra bytes in ${what} frame`);
  return v;
}

/**
 * Decodes a SETTINGS payload (RFC 9114 section 7.2.4): duplicate
 * identifiers, HTTP/2-only identifiers and out-of-range values of boolean
 * settings are H3_SETTINGS_ERROR; a truncated pair is H3_FRAME_ERROR.
 */
export function decodeSettingsPayload(payload: Uint8Array): H3Settings {
  const r = new ByteReader(payload);
  const settings: H3Settings = {};
  const seen = new Set<number>();
  while (!r.done) {
    let id: number;
    let value: number;
    try {
      id = readVarint(r);
      value = readVarint(r);
    } catch (e) {
      if (e instanceof DecodeError) throw frameError("truncated setting in SETTINGS frame");
      throw e;
    }
    if (seen.has(id)) throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${id.toString(16)} appears twice`);
    seen.add(id);
    switch (id) {
      case SettingsId.QPACK_MAX_TABLE_CAPACITY:
        settings.qpackMaxTableCapacity = value;
        break;
      case SettingsId.MAX_FIELD_SECTION_SIZE:
        settings.maxFieldSectionSize = value;
        break;
      case SettingsId.QPACK_BLOCKED_STREAMS:
        settings.qpackBlockedStreams = value;
        break;
      case SettingsId.ENABLE_CONNECT_PROTOCOL:
        // RFC 9220 section 3: a value other than 0 or 1 is H3_SETTINGS_ERROR.
        if (value > 1) throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `SETTINGS_ENABLE_CONNECT_PROTOCOL is ${value}, not 0 or 1`);
        settings.enableConnectProtocol = value === 1;
        break;
      case SettingsId.H3_DATAGRAM:
        // RFC 9297 section 2.1.1: a value other than 0 or 1 is H3_SETTINGS_ERROR.
        if (value > 1) throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `SETTINGS_H3_DATAGRAM is ${value}, not 0 or 1`);
        settings.h3Datagram = value === 1;
        break;
      default:
        if (isHttp2OnlySetting(id)) throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `HTTP/2 setting 0x${id.toString(16)} received`);
        (settings.extra ??= []).push([id, value]);
    }
  }
  return settings;
}

/**
 * Decodes the payload of a non-DATA frame of a known type; returns undefined
 * for reserved and unknown types (which are ignored, RFC 9114 section 9).
 * HTTP/2-only types are H3_FRAME_UNEXPECTED; a payload with missing or
 * extra bytes is H3_FRAME_ERROR (section 7.1).
 */
export function decodeFramePayload(type: number, payload: Uint8Array): Exclude<H3Frame, { type: "data" }> | undefined {
  switch (type) {
    case FrameType.HEADERS:
      return { type: "headers", fieldSection: payload };
    case FrameType.CANCEL_PUSH:
      return { type: "cancelPush", pushId: singleVarint(payload, "CANCEL_PUSH") };
    case FrameType.SETTINGS:
      return { type: "settings", settings: decodeSettingsPayload(payload) };
    case FrameType.PUSH_PROMISE: {
      const r = new ByteReader(payload);
      let pushId: number;
      try {
        pushId = readVarint(r);
      } catch {
        throw frameError("truncated PUSH_PROMISE frame");
      }
      return { type: "pushPromise", pushId, fieldSection: payload.subarray(r.offset) };
    }
    case FrameType.GOAWAY:
      return { type: "goaway", id: singleVarint(payload, "GOAWAY") };
    case FrameType.MAX_PUSH_ID:
      return { type: "maxPushId", pushId: singleVarint(payload, "MAX_PUSH_ID") };
    default:
      if (isHttp2OnlyFrameType(type)) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `HTTP/2 frame type 0x${type.toString(16)} received`);
      return undefined;
  }
}

/** Default limit on the payload of a non-DATA frame the {@link FrameReader} buffers. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /**
   * Largest payload of a HEADERS, PUSH_PROMISE or SETTINGS frame to buffer;
   * larger is H3_EXCESSIVE_LOAD. Default 64 KiB. DATA is streamed and
   * unknown frames are discarded as they arrive, so neither is limited.
   */
  maxFrameSize?: number;
  /**
   * When set, also enforces which frames may appear on this kind of stream
   * (RFC 9114 section 7, Table 1) and, on a control stream, that SETTINGS
   * comes first and only once (sections 6.2.1 and 7.2.4).
   */
  stream?: FrameStreamKind;
}

const HEADER = 0;
const DATA = 1;
const PAYLOAD = 2;
const SKIP = 3;

/**
 * Parses frames out of stream data arriving in arbitrary pieces: `push`
 * bytes in, pull {@link FrameEvent}s out with `next` until it returns
 * undefined, and call `finish` when the stream ends cleanly. Pushed bytes
 * are kept by reference (DATA pieces are views of them), so they must not
 * be modified afterwards. Errors are {@link H3Error}s with the code the
 * connection must close with.
 */
export class FrameReader {
  private readonly maxFrameSize: number;
  private readonly stream: FrameStreamKind | undefined;
  private chunks: Uint8Array[] = [];
  private first = 0;
  private off = 0;
  private avail = 0;
  private state = HEADER;
  private frameType = 0;
  private remaining = 0;
  private payload = new Uint8Array(0);
  private filled = 0;
  private frames = 0;

  constructor(options: FrameReaderOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.stream = options.stream;
  }

  /** Bytes pushed and not yet consumed. */
  get buffered(): number {
    return this.avail;
  }

  /** Memory this reader holds: bytes pushed and not consumed, plus the buffer of a frame being assembled. */
  get heldBytes(): number {
    return this.avail + (this.state === PAYLOAD ? this.payload.length : 0);
  }

  /** Adds stream bytes. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(plainBytes(bytes));
    this.avail += bytes.length;
  }

  /**
   * The stream ended cleanly: a frame cut short is H3_FRAME_ERROR (RFC 9114
   * section 7.1). Call after `next` has drained what it can.
   */
  finish(): void {
    if (this.state !== HEADER || this.avail > 0) throw frameError("stream ended inside a frame");
  }

  /** The next frame or DATA piece, or undefined until more bytes are pushed. */
  next(): FrameEvent | undefined {
    for (;;) {
      switch (this.state) {
        case HEADER: {
          const ev = this.readHeader();
          if (ev !== null) return ev;
          if (this.state === HEADER) return undefined;
          continue;
        }
        case DATA: {
          if (this.avail === 0) return undefined;
          const chunk = this.chunks[this.first]!;
          const n = Math.min(this.remaining, chunk.length - this.off);
          const data = chunk.subarray(this.off, this.off + n);
          this.consume(n);
          this.remaining -= n;
          const frameEnd = this.remaining === 0;
          if (frameEnd) this.state = HEADER;
          return { type: "data", data, frameEnd };
        }
        case PAYLOAD: {
          while (this.filled < this.payload.length && this.avail > 0) {
            const chunk = this.chunks[this.first]!;
            const n = Math.min(this.payload.length - this.filled, chunk.length - this.off);
            this.payload.set(chunk.subarray(this.off, this.off + n), this.filled);
            this.filled += n;
            this.consume(n);
          }
          if (this.filled < this.payload.length) return undefined;
          this.state = HEADER;
          const frame = decodeFramePayload(this.frameType, this.payload);
          if (frame) return frame;
          continue;
        }
        default: {
          // SKIP: discard a reserved or unknown frame as it arrives.
          const n = Math.min(this.remaining, this.avail);
          if (n === 0 && this.remaining > 0) return undefined;
          this.consume(n);
          this.remaining -= n;
          if (this.remaining === 0) this.state = HEADER;
          continue;
        }
      }
    }
  }

  /**
   * Parses a frame header if all of it is buffered. Returns an event for a
   * zero-length frame, null otherwise (the state says what comes next).
   */
  private readHeader(): FrameEvent | null {
    if (this.avail === 0) return null;
    const n1 = 1 << (this.peek(0) >> 6);
    if (this.avail < n1 + 1) return null;
    const n2 = 1 << (this.peek(n1) >> 6);
    if (this.avail < n1 + n2) return null;
    const type = this.varintAt(0, n1);
    const length = this.varintAt(n1, n2);
    this.consume(n1 + n2);
    this.checkAllowed(type);
    this.frames++;
    this.frameType = type;
    this.remaining = length;
    if (type === FrameType.DATA) {
      this.state = DATA;
      if (length === 0) {
        this.state = HEADER;
        return { type: "data", data: new Uint8Array(0), frameEnd: true };
      }
      return null;
    }
    if (type === FrameType.CANCEL_PUSH || type === FrameType.GOAWAY || type === FrameType.MAX_PUSH_ID) {
      // One varint: never more than 8 bytes (RFC 9114 sections 7.2.3, 7.2.6, 7.2.7).
      if (length > 8) throw frameError(`frame type 0x${type.toString(16)} with a ${length}-byte payload`);
    } else if (type === FrameType.HEADERS || type === FrameType.PUSH_PROMISE || type === FrameType.SETTINGS) {
      if (length > this.maxFrameSize) {
        throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `frame type 0x${type.toString(16)} of ${length} bytes exceeds the limit of ${this.maxFrameSize}`);
      }
    } else {
      // Reserved or unknown (HTTP/2-only types were rejected above): ignored (RFC 9114 section 9).
      this.state = SKIP;
      return null;
    }
    this.payload = new Uint8Array(length);
    this.filled = 0;
    this.state = PAYLOAD;
    return null;
  }

  /** RFC 9114 section 7, Table 1, and the control stream rules of sections 6.2.1 and 7.2.4. */
  private checkAllowed(type: number): void {
    if (isHttp2OnlyFrameType(type)) throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `HTTP/2 frame type 0x${type.toString(16)} received`);
    const stream = this.stream;
    if (stream === undefined) return;
    const unexpected = (): never => {
      throw new H3Error(H3ErrorCode.H3_FRAME_UNEXPECTED, `frame type 0x${type.toString(16)} on a ${stream} stream`);
    };
    if (stream === "control") {
      if (this.frames === 0) {
        if (type !== FrameType.SETTINGS) throw new H3Error(H3ErrorCode.H3_MISSING_SETTINGS, `first frame on the control stream is 0x${type.toString(16)}, not SETTINGS`);
        return;
      }
      if (type === FrameType.SETTINGS || type === FrameType.DATA || type === FrameType.HEADERS || type === FrameType.PUSH_PROMISE) unexpected();
      return;
    }
    if (type === FrameType.CANCEL_PUSH || type === FrameType.SETTINGS || type === FrameType.GOAWAY || type === FrameType.MAX_PUSH_ID) unexpected();
    if (stream === "push" && type === FrameType.PUSH_PROMISE) unexpected();
  }

  /** The byte `i` positions past the read point (the caller checked `avail`). */
  private peek(i: number): number {
    let k = this.first;
    let o = this.off + i;
    while (o >= this.chunks[k]!.length) {
      o -= this.chunks[k]!.length;
      k++;
    }
    return this.chunks[k]![o]!;
  }

  /** The varint of `len` bytes at `i` past the read point (RFC 9000 section 16). */
  private varintAt(i: number, len: number): number {
    let v = this.peek(i) & 0x3f;
    for (let j = 1; j < len; j++) v = v * 256 + this.peek(i + j);
    return v;
  }

  private consume(n: number): void {
    this.avail -= n;
    let o = this.off + n;
    while (this.first < this.chunks.length && o >= this.chunks[this.first]!.length) {
      o -= this.chunks[this.first]!.length;
      this.first++;
    }
    this.off = o;
    if (this.first === this.chunks.length) {
      this.chunks.length = 0;
      this.first = 0;
      this.off = 0;
    } else if (this.first > 16) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
