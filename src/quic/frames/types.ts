/**
 * QUIC frame types and the decoded-frame union (RFC 9000 section 19, RFC 9221,
 * draft-ietf-quic-ack-frequency).
 *
 * Decoded frames are plain objects discriminated by `type`. The payload
 * bytes of STREAM, CRYPTO and DATAGRAM frames are *views* into the packet
 * buffer (no copy on the hot path): a consumer that keeps them past the
 * processing of the packet must copy them, because the driver may reuse its
 * receive buffer. Small, long-lived values (connection IDs, reset tokens,
 * NEW_TOKEN tokens, PATH_* data, reason phrases) are copied by the decoder.
 */

/** Frame type values (RFC 9000 section 12.4 Table 3, RFC 9221 section 4, ack-frequency draft sections 4-5). */
export const FrameType = {
  PADDING: 0x00,
  PING: 0x01,
  ACK: 0x02,
  ACK_ECN: 0x03,
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  CRYPTO: 0x06,
  NEW_TOKEN: 0x07,
  /** STREAM is 0x08-0x0f; the low three bits are OFF, LEN and FIN (RFC 9000 section 19.8). */
  STREAM: 0x08,
  STREAM_MAX: 0x0f,
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
  STREAMS_BLOCKED_UNI: 0x17,
  NEW_CONNECTION_ID: 0x18,
  RETIRE_CONNECTION_ID: 0x19,
  PATH_CHALLENGE: 0x1a,
  PATH_RESPONSE: 0x1b,
  /** CONNECTION_CLOSE signalling a transport error (RFC 9000 section 19.19). */
  CONNECTION_CLOSE: 0x1c,
  /** CONNECTION_CLOSE signalling an application error (RFC 9000 section 19.19). */
  CONNECTION_CLOSE_APP: 0x1d,
  HANDSHAKE_DONE: 0x1e,
  /** IMMEDIATE_ACK (draft-ietf-quic-ack-frequency section 5). */
  IMMEDIATE_ACK: 0x1f,
  /** DATAGRAM without a Length field (RFC 9221 section 4). */
  DATAGRAM: 0x30,
  /** DATAGRAM with a Length field (RFC 9221 section 4: LEN bit 0x01). */
  DATAGRAM_LEN: 0x31,
  /** ACK_FREQUENCY (draft-ietf-quic-ack-frequency section 4). */
  ACK_FREQUENCY: 0xaf,
} as const;

/** STREAM frame type bit: an Offset field is present (RFC 9000 section 19.8). */
export const STREAM_BIT_OFF = 0x04;
/** STREAM frame type bit: a Length field is present (RFC 9000 section 19.8). */
export const STREAM_BIT_LEN = 0x02;
/** STREAM frame type bit: the frame ends the stream (RFC 9000 section 19.8). */
export const STREAM_BIT_FIN = 0x01;

/** Longest connection ID in QUIC v1 (RFC 9000 sections 17.2 and 19.15). */
export const MAX_CONNECTION_ID_LENGTH = 20;
/** Length of PATH_CHALLENGE / PATH_RESPONSE data (RFC 9000 sections 19.17-19.18). */
export const PATH_DATA_LENGTH = 8;

/**
 * Packet types are those of the packet layer ({@link PacketType} in
 * `../packet/header.ts`), so a parsed header's `type` goes straight into
 * {@link frameAllowedIn} and `parseFrames`. Only Initial, 0-RTT, Handshake
 * and 1-RTT packets carry frames (RFC 9000 section 12.4).
 */
export { PacketType } from "../packet/header.js";

/** A run of PADDING bytes, collapsed into one result (RFC 9000 section 19.1). */
export interface PaddingFrame {
  type: "padding";
  /** Number of 0x00 bytes in the run. */
  length: number;
}

/** PING (RFC 9000 section 19.2). */
export interface PingFrame {
  type: "ping";
}

/** The three ECN counters of an ACK_ECN frame (RFC 9000 section 19.3.2). */
export interface EcnCounts {
  ect0: number;
  ect1: number;
  ce: number;
}

/**
 * ACK or ACK_ECN (RFC 9000 section 19.3).
 *
 * `ranges` lists the acknowledged packet numbers as flat, inclusive
 * `[largest, smallest]` pairs in descending order, the order of the wire
 * format: `ranges[0]` is the Largest Acknowledged, `ranges[1]` the smallest
 * packet of the First ACK Range, then one pair per ACK Range. One array per
 * frame and no per-range objects; {@link ackFrameToRangeSet} converts to a
 * {@link RangeSet}.
 */
export interface AckFrame {
  type: "ack";
  /** Largest Acknowledged (equal to `ranges[0]`). */
  largest: number;
  /** ACK Delay field as sent, before scaling by 2^ack_delay_exponent (RFC 9000 section 19.3). */
  ackDelay: number;
  /** Descending inclusive `[largest, smallest]` pairs, flattened. */
  ranges: number[];
  /** ECN counts for type 0x03, null for type 0x02. */
  ecn: EcnCounts | null;
}

/** RESET_STREAM (RFC 9000 section 19.4). */
export interface ResetStreamFrame {
  type: "reset_stream";
  streamId: number;
  /** Application protocol error code. */
  errorCode: number;
  finalSize: number;
}

/** STOP_SENDING (RFC 9000 section 19.5). */
export interface StopSendingFrame {
  type: "stop_sending";
  streamId: number;
  /** Application protocol error code. */
  errorCode: number;
}

/** CRYPTO (RFC 9000 section 19.6). `data` is a view into the packet. */
export interface CryptoFrame {
  type: "crypto";
  offset: number;
  data: Uint8Array;
}

/** NEW_TOKEN (RFC 9000 section 19.7). `token` is a copy and never empty. */
export interface NewTokenFrame {
  type: "new_token";
  token: Uint8Array;
}

/** STREAM (RFC 9000 section 19.8). `data` is a view into the packet. */
export interface StreamFrame {
  type: "stream";
  streamId: number;
  offset: number;
  data: Uint8Array;
  fin: boolean;
}

/** MAX_DATA (RFC 9000 section 19.9). */
export interface MaxDataFrame {
  type: "max_data";
  maximum: number;
}

/** MAX_STREAM_DATA (RFC 9000 section 19.10). */
export interface MaxStreamDataFrame {
  type: "max_stream_data";
  streamId: number;
  maximum: number;
}

/** MAX_STREAMS, bidirectional (0x12) or unidirectional (0x13) (RFC 9000 section 19.11). */
export interface MaxStreamsFrame {
  type: "max_streams";
  bidi: boolean;
  /** Cumulative stream count, at most 2^60. */
  maximum: number;
}

/** DATA_BLOCKED (RFC 9000 section 19.12). */
export interface DataBlockedFrame {
  type: "data_blocked";
  limit: number;
}

/** STREAM_DATA_BLOCKED (RFC 9000 section 19.13). */
export interface StreamDataBlockedFrame {
  type: "stream_data_blocked";
  streamId: number;
  limit: number;
}

/** STREAMS_BLOCKED, bidirectional (0x16) or unidirectional (0x17) (RFC 9000 section 19.14). */
export interface StreamsBlockedFrame {
  type: "streams_blocked";
  bidi: boolean;
  /** Stream count at which the sender was blocked, at most 2^60. */
  limit: number;
}

/** NEW_CONNECTION_ID (RFC 9000 section 19.15). Byte fields are copies. */
export interface NewConnectionIdFrame {
  type: "new_connection_id";
  sequence: number;
  retirePriorTo: number;
  /** 1 to 20 bytes. */
  connectionId: Uint8Array;
  /** 16 bytes. */
  statelessResetToken: Uint8Array;
}

/** RETIRE_CONNECTION_ID (RFC 9000 section 19.16). */
export interface RetireConnectionIdFrame {
  type: "retire_connection_id";
  sequence: number;
}

/** PATH_CHALLENGE (RFC 9000 section 19.17). `data` is an 8-byte copy. */
export interface PathChallengeFrame {
  type: "path_challenge";
  data: Uint8Array;
}

/** PATH_RESPONSE (RFC 9000 section 19.18). `data` is an 8-byte copy. */
export interface PathResponseFrame {
  type: "path_response";
  data: Uint8Array;
}

/**
 * CONNECTION_CLOSE (RFC 9000 section 19.19): type 0x1c when `application` is
 * false (transport error, carries `frameType`), 0x1d when true.
 */
export interface ConnectionCloseFrame {
  type: "connection_close";
  application: boolean;
  errorCode: number;
  /** Frame type that triggered the error (0x1c only; 0 when unknown or for 0x1d). */
  frameType: number;
  /** Reason phrase bytes (a copy; SHOULD be UTF-8, not checked). */
  reason: Uint8Array;
}

/** HANDSHAKE_DONE (RFC 9000 section 19.20). */
export interface HandshakeDoneFrame {
  type: "handshake_done";
}

/** DATAGRAM (RFC 9221 section 4). `data` is a view into the packet and may be empty. */
export interface DatagramFrame {
  type: "datagram";
  data: Uint8Array;
}

/** ACK_FREQUENCY (draft-ietf-quic-ack-frequency section 4). */
export interface AckFrequencyFrame {
  type: "ack_frequency";
  sequence: number;
  ackElicitingThreshold: number;
  /** Requested max_ack_delay in microseconds. */
  requestMaxAckDelay: number;
  reorderingThreshold: number;
}

/** IMMEDIATE_ACK (draft-ietf-quic-ack-frequency section 5). */
export interface ImmediateAckFrame {
  type: "immediate_ack";
}

/** Every frame tsquic decodes and encodes. */
export type Frame =
  | PaddingFrame
  | PingFrame
  | AckFrame
  | ResetStreamFrame
  | StopSendingFrame
  | CryptoFrame
  | NewTokenFrame
  | StreamFrame
  | MaxDataFrame
  | MaxStreamDataFrame
  | MaxStreamsFrame
  | DataBlockedFrame
  | StreamDataBlockedFrame
  | StreamsBlockedFrame
  | NewConnectionIdFrame
  | RetireConnectionIdFrame
  | PathChallengeFrame
  | PathResponseFrame
  | ConnectionCloseFrame
  | HandshakeDoneFrame
  | DatagramFrame
  | AckFrequencyFrame
  | ImmediateAckFrame;

/** The `type` tag of a {@link Frame}. */
export type FrameKind = Frame["type"];

/** Name of a frame type value for messages and logs, e.g. `STREAM` or `0x40`. */
export function frameTypeName(frameType: number): string {
  if (frameType >= FrameType.STREAM && frameType <= FrameType.STREAM_MAX) return "STREAM";
  switch (frameType) {
    case FrameType.PADDING: return "PADDING";
    case FrameType.PING: return "PING";
    case FrameType.ACK: return "ACK";
    case FrameType.ACK_ECN: return "ACK_ECN";
    case FrameType.RESET_STREAM: return "RESET_STREAM";
    case FrameType.STOP_SENDING: return "STOP_SENDING";
    case FrameType.CRYPTO: return "CRYPTO";
    case FrameType.NEW_TOKEN: return "NEW_TOKEN";
    case FrameType.MAX_DATA: return "MAX_DATA";
    case FrameType.MAX_STREAM_DATA: return "MAX_STREAM_DATA";
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI: return "MAX_STREAMS";
    case FrameType.DATA_BLOCKED: return "DATA_BLOCKED";
    case FrameType.STREAM_DATA_BLOCKED: return "STREAM_DATA_BLOCKED";
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI: return "STREAMS_BLOCKED";
    case FrameType.NEW_CONNECTION_ID: return "NEW_CONNECTION_ID";
    case FrameType.RETIRE_CONNECTION_ID: return "RETIRE_CONNECTION_ID";
    case FrameType.PATH_CHALLENGE: return "PATH_CHALLENGE";
    case FrameType.PATH_RESPONSE: return "PATH_RESPONSE";
    case FrameType.CONNECTION_CLOSE:
    case FrameType.CONNECTION_CLOSE_APP: return "CONNECTION_CLOSE";
    case FrameType.HANDSHAKE_DONE: return "HANDSHAKE_DONE";
    case FrameType.IMMEDIATE_ACK: return "IMMEDIATE_ACK";
    case FrameType.DATAGRAM:
    case FrameType.DATAGRAM_LEN: return "DATAGRAM";
    case FrameType.ACK_FREQUENCY: return "ACK_FREQUENCY";
    default: return `0x${frameType.toString(16)}`;
  }
}
