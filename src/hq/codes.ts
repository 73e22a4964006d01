/**
 * Application error codes tsquic's hq-interop endpoints put in
 * RESET_STREAM / STOP_SENDING / CONNECTION_CLOSE (RFC 9000 section 20.2).
 * hq-interop defines none, so these are our own; a peer only learns that
 * the stream was refused, and the interop runner never checks the value.
 */
export const HqErrorCode = {
  /** Clean close of a connection. */
  NO_ERROR: 0x0,
  /** The server failed while reading the file (I/O error, permission). */
  INTERNAL_ERROR: 0x1,
  /** The request line was refused (see HqRequestError's reason). */
  BAD_REQUEST: 0x2,
  /** No regular file at that path under the root. */
  NOT_FOUND: 0x3,
  /** The server is stopping, or the client gave up on the stream. */
  CANCELLED: 0x4,
} as const;

/** One of {@link HqErrorCode}'s values. */
export type HqErrorCode = (typeof HqErrorCode)[keyof typeof HqErrorCode];
