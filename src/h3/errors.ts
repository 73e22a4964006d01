import { TsquicError } from "../util/errors.js";

/**
 * HTTP/3 application error codes (RFC 9114 section 8.1) and the QPACK codes
 * that share their space (RFC 9204 section 6). They travel in RESET_STREAM,
 * STOP_SENDING and CONNECTION_CLOSE (type 0x1d) frames.
 */
export const H3ErrorCode = {
  /** No error; also what unknown codes mean on receipt (RFC 9114 section 8). */
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  /** The decoder could not interpret an encoded field section (RFC 9204 section 6). */
  QPACK_DECOMPRESSION_FAILED: 0x200,
  /** The decoder could not interpret an encoder instruction (RFC 9204 section 6). */
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  /** The encoder could not interpret a decoder instruction (RFC 9204 section 6). */
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;

/** One of the {@link H3ErrorCode} values. */
export type H3ErrorCodeValue = (typeof H3ErrorCode)[keyof typeof H3ErrorCode];

const NAMES = new Map<number, string>(Object.entries(H3ErrorCode).map(([k, v]) => [v, k]));

/**
 * True for the reserved "greasing" code points 0x1f * N + 0x21 that RFC 9114
 * uses for frame types (section 7.2.8), settings (section 7.2.4.1), stream
 * types (section 6.2.3) and error codes (section 8.1): they carry no meaning
 * and must be ignored.
 */
export function isReservedCodepoint(v: number): boolean {
  return v >= 0x21 && (v - 0x21) % 0x1f === 0;
}

/** Name of an HTTP/3 or QPACK error code, e.g. `H3_FRAME_ERROR` or `0x1234`. */
export function h3ErrorName(code: number): string {
  return NAMES.get(code) ?? (isReservedCodepoint(code) ? `reserved(0x${code.toString(16)})` : `0x${code.toString(16)}`);
}

/**
 * An HTTP/3 or QPACK protocol error: raised by the frame and QPACK codecs
 * when the peer breaks a rule of RFC 9114 or RFC 9204. `errorCode` is what
 * the connection (or stream) is closed with; the message says what happened.
 */
export class H3Error extends TsquicError {
  /** The HTTP/3 or QPACK error code (RFC 9114 section 8.1, RFC 9204 section 6). */
  readonly errorCode: number;
  /** What went wrong, in words (sent as the reason phrase). */
  readonly reason: string;

  constructor(errorCode: number, reason: string) {
    super("ERR_H3", `${h3ErrorName(errorCode)}: ${reason}`);
    this.errorCode = errorCode;
    this.reason = reason;
  }
}

/**
 * A decoded field section larger than the decoder's MAX_FIELD_SECTION_SIZE
 * (RFC 9114 section 4.2.2). It concerns one message only: QPACK state stays
 * consistent (the section was still fully parsed and acknowledged), so a
 * server can answer 431 or reset that stream and keep the connection.
 */
export class FieldSectionTooLargeError extends H3Error {
  /** The configured limit that was exceeded, in bytes (names + values + 32 per field). */
  readonly limit: number;

  constructor(limit: number) {
    super(H3ErrorCode.H3_EXCESSIVE_LOAD, `field section exceeds the limit of ${limit} bytes`);
    this.limit = limit;
  }
}
