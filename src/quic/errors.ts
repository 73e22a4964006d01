import { TsquicError } from "../util/errors.js";

/** QUIC transport error codes (RFC 9000 section 20.1). */
export const TransportErrorCode = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  /** CRYPTO_ERROR is 0x0100-0x01ff: 0x100 plus the TLS alert (RFC 9000 section 20.1, RFC 9001 section 4.8). */
  CRYPTO_ERROR_BASE: 0x100,
  /** VERSION_NEGOTIATION_ERROR (RFC 9368 section 10.2). */
  VERSION_NEGOTIATION_ERROR: 0x11,
} as const;

/** Name of a transport error code, e.g. `FLOW_CONTROL_ERROR` or `CRYPTO_ERROR(0x128)`. */
export function transportErrorName(code: number): string {
  if (code >= 0x100 && code <= 0x1ff) return `CRYPTO_ERROR(0x${code.toString(16)})`;
  for (const [name, value] of Object.entries(TransportErrorCode)) {
    if (value === code && name !== "CRYPTO_ERROR_BASE") return name;
  }
  return `0x${code.toString(16)}`;
}

/**
 * A QUIC transport error: raised by decoders and the connection when the peer
 * breaks a rule of RFC 9000/9001/9002, and carried to the peer in a
 * CONNECTION_CLOSE frame of type 0x1c.
 */
export class QuicTransportError extends TsquicError {
  /** The transport error code (RFC 9000 section 20.1). */
  readonly errorCode: number;
  /** The frame type that triggered the error, when known (RFC 9000 section 19.19). */
  readonly frameType: number | undefined;
  /** The reason phrase sent to the peer. */
  readonly reason: string;

  constructor(errorCode: number, reason: string, frameType?: number) {
    super("ERR_QUIC_TRANSPORT", `${transportErrorName(errorCode)}: ${reason}`);
    this.errorCode = errorCode;
    this.frameType = frameType;
    this.reason = reason;
  }
}
