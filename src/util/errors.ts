/**
 * The root of every error tsquic throws or reports. `code` is a stable,
 * machine-readable string (`ERR_QUIC_*`, `ERR_TLS_*`, `ERR_H3_*`); the message
 * says what happened in words.
 */
export class TsquicError extends Error {
  /** Stable machine-readable error code, e.g. `ERR_TLS_ALERT` or `ERR_QUIC_TRANSPORT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Raised by the byte-level codecs when input is truncated or structurally
 * malformed. Each protocol layer catches it at its message boundary and turns
 * it into the protocol's own error (a TLS `decode_error` alert, a QUIC
 * `FRAME_ENCODING_ERROR`, ...), so it never escapes to users on its own.
 */
export class DecodeError extends TsquicError {
  constructor(message: string) {
    super("ERR_DECODE", message);
  }
}
