/**
 * QUIC frames and packet headers as qlog objects
 * (draft-ietf-quic-qlog-quic-events-03 section 8: QuicFrame, PacketHeader).
 * Used only when a connection is traced.
 */
import { toHex } from "../../util/bytes.js";
import { closeReasonText, parseFrames, type Frame } from "../frames/index.js";
import { PacketType } from "../packet/index.js";
import { transportErrorName } from "../errors.js";

/** A qlog JSON value. */
export type QlogValue = string | number | boolean | null | QlogValue[] | { [k: string]: QlogValue | undefined };
/** A qlog JSON object. */
export type QlogObject = { [k: string]: QlogValue | undefined };

/** qlog PacketType names (quic-events section 8.5). */
export function qlogPacketType(t: PacketType): string {
  switch (t) {
    case PacketType.Initial: return "initial";
    case PacketType.Handshake: return "handshake";
    case PacketType.ZeroRtt: return "0RTT";
    case PacketType.OneRtt: return "1RTT";
    case PacketType.Retry: return "retry";
    case PacketType.VersionNegotiation: return "version_negotiation";
    default: return "unknown";
  }
}

// Accept every frame we know when re-reading a payload for the trace: the connection itself enforces the rules.
const TRACE_PARSE_OPTIONS = { ackFrequency: true };

/**
 * The frames of a decrypted payload as qlog objects. A payload that fails
 * to parse yields the frames before the failure and an `unknown` entry, so
 * the trace still shows what arrived.
 */
export function qlogFrames(payload: Uint8Array, packetType: PacketType, ackDelayExponent: number): QlogObject[] {
  const out: QlogObject[] = [];
  try {
    parseFrames(payload, packetType, (f) => out.push(qlogFrame(f, ackDelayExponent)), TRACE_PARSE_OPTIONS);
  } catch {
    out.push({ frame_type: "unknown", raw: { length: payload.length } });
  }
  return out;
}

const streamType = (bidi: boolean): string => (bidi ? "bidirectional" : "unidirectional");

/** One frame as a qlog QuicFrame (quic-events section 8.13). Data bytes are summarized by length, never copied. */
export function qlogFrame(f: Frame, ackDelayExponent: number): QlogObject {
  switch (f.type) {
    case "padding":
      return { frame_type: "padding", length: f.length, payload_length: f.length };
    case "ping":
    case "handshake_done":
    case "immediate_ack":
      return { frame_type: f.type };
    case "ack": {
      // Our ranges are descending [largest, smallest] pairs; qlog lists ascending [smallest, largest] ranges.
      const ranges: QlogValue[] = [];
      for (let i = f.ranges.length - 2; i >= 0; i -= 2) ranges.push([f.ranges[i + 1]!, f.ranges[i]!]);
      // ACK Delay is in units of 2^exponent microseconds (RFC 9000 section 19.3); qlog wants ms.
      const o: QlogObject = { frame_type: "ack", ack_delay: (f.ackDelay * 2 ** ackDelayExponent) / 1000, acked_ranges: ranges };
      if (f.ecn) {
        o.ect0 = f.ecn.ect0;
        o.ect1 = f.ecn.ect1;
        o.ce = f.ecn.ce;
      }
      return o;
    }
    case "reset_stream":
      return { frame_type: "reset_stream", stream_id: f.streamId, error_code: f.errorCode, final_size: f.finalSize };
    case "stop_sending":
      return { frame_type: "stop_sending", stream_id: f.streamId, error_code: f.errorCode };
    case "crypto":
      return { frame_type: "crypto", offset: f.offset, length: f.data.length };
    case "new_token":
      return { frame_type: "new_token", token: { length: f.token.length, data: toHex(f.token) } };
    case "stream":
      return { frame_type: "stream", stream_id: f.streamId, offset: f.offset, length: f.data.length, fin: f.fin };
    case "max_data":
      return { frame_type: "max_data", maximum: f.maximum };
    case "max_stream_data":
      return { frame_type: "max_stream_data", stream_id: f.streamId, maximum: f.maximum };
    case "max_streams":
      return { frame_type: "max_streams", stream_type: streamType(f.bidi), maximum: f.maximum };
    case "data_blocked":
      return { frame_type: "data_blocked", limit: f.limit };
    case "stream_data_blocked":
      return { frame_type: "stream_data_blocked", stream_id: f.streamId, limit: f.limit };
    case "streams_blocked":
      return { frame_type: "streams_blocked", stream_type: streamType(f.bidi), limit: f.limit };
    case "new_connection_id":
      return {
        frame_type: "new_connection_id",
        sequence_number: f.sequence,
        retire_prior_to: f.retirePriorTo,
        connection_id_length: f.connectionId.length,
        connection_id: toHex(f.connectionId),
        stateless_reset_token: toHex(f.statelessResetToken),
      };
    case "retire_connection_id":
      return { frame_type: "retire_connection_id", sequence_number: f.sequence };
    case "path_challenge":
    case "path_response":
      return { frame_type: f.type, data: toHex(f.data) };
    case "connection_close": {
      const o: QlogObject = {
        frame_type: "connection_close",
        error_space: f.application ? "application" : "transport",
        error_code: f.application ? f.errorCode : qlogTransportError(f.errorCode),
        raw_error_code: f.errorCode,
        reason: closeReasonText(f),
      };
      if (!f.application) o.trigger_frame_type = f.frameType;
      return o;
    }
    case "datagram":
      return { frame_type: "datagram", length: f.data.length };
    case "ack_frequency":
      return {
        frame_type: "ack_frequency",
        sequence_number: f.sequence,
        ack_eliciting_threshold: f.ackElicitingThreshold,
        request_max_ack_delay: f.requestMaxAckDelay / 1000,
        reordering_threshold: f.reorderingThreshold,
      };
  }
}

/** A transport error code as qlog names it (quic-events section 8.12): `protocol_violation`, `crypto_error_0x12a`. */
export function qlogTransportError(code: number): string {
  if (code >= 0x100 && code <= 0x1ff) return `crypto_error_0x${code.toString(16)}`;
  return transportErrorName(code).toLowerCase();
}
