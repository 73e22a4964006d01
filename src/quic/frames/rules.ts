/**
 * Per-frame-type rules: which packet types may carry a frame (RFC 9000
 * section 12.4 Table 3 and section 12.5), which frames elicit an
 * acknowledgement and count toward bytes in flight (RFC 9002 section 2), and
 * which are probing frames (RFC 9000 section 9.1).
 */
import { PacketType } from "../packet/header.js";
import { FrameType, type Frame } from "./types.js";

// One bit per packet type, indexed by the packet layer's PacketType values.
const I = 1 << PacketType.Initial;
const Z = 1 << PacketType.ZeroRtt;
const H = 1 << PacketType.Handshake;
const O = 1 << PacketType.OneRtt;

/**
 * Packet types allowed for frame types 0x00-0x1f (RFC 9000 Table 3, "Pkts").
 * Where section 12.5 is stricter than the table (RETIRE_CONNECTION_ID cannot
 * be sent in 0-RTT), section 12.5 wins.
 */
const ALLOWED = new Uint8Array(0x20);
ALLOWED[FrameType.PADDING] = I | H | Z | O; // IH01
ALLOWED[FrameType.PING] = I | H | Z | O; // IH01
ALLOWED[FrameType.ACK] = I | H | O; // IH_1: 0-RTT cannot acknowledge (12.5)
ALLOWED[FrameType.ACK_ECN] = I | H | O;
ALLOWED[FrameType.RESET_STREAM] = Z | O; // __01
ALLOWED[FrameType.STOP_SENDING] = Z | O;
ALLOWED[FrameType.CRYPTO] = I | H | O; // IH_1
ALLOWED[FrameType.NEW_TOKEN] = O; // ___1
for (let t = FrameType.STREAM; t <= FrameType.STREAM_MAX; t++) ALLOWED[t] = Z | O; // __01
for (let t = FrameType.MAX_DATA; t <= FrameType.NEW_CONNECTION_ID; t++) ALLOWED[t] = Z | O; // __01
ALLOWED[FrameType.RETIRE_CONNECTION_ID] = O; // section 12.5: not in 0-RTT
ALLOWED[FrameType.PATH_CHALLENGE] = Z | O; // __01
ALLOWED[FrameType.PATH_RESPONSE] = O; // ___1
ALLOWED[FrameType.CONNECTION_CLOSE] = I | H | Z | O; // "ih01": 0x1c anywhere
ALLOWED[FrameType.CONNECTION_CLOSE_APP] = Z | O; // 0x1d only in application data (12.5)
ALLOWED[FrameType.HANDSHAKE_DONE] = O; // ___1
// IMMEDIATE_ACK: the ack-frequency draft section 3 forbids 0-RTT (min_ack_delay is not remembered).
ALLOWED[FrameType.IMMEDIATE_ACK] = O;

/**
 * True when a frame of `frameType` may appear in a packet of `packetType`
 * (RFC 9000 section 12.4 Table 3 and section 12.5; RFC 9221 section 5 for
 * DATAGRAM: 0-RTT and 1-RTT; ack-frequency draft section 3: 1-RTT only).
 * Receipt of a frame where it is not allowed is a PROTOCOL_VIOLATION.
 * Unknown frame types are never allowed.
 */
export function frameAllowedIn(frameType: number, packetType: PacketType): boolean {
  // Retry, Version Negotiation and unsupported-version packets carry no frames: their bits are in no mask.
  const bit = 1 << packetType;
  if (frameType < 0x20) return (ALLOWED[frameType]! & bit) !== 0;
  if (frameType === FrameType.DATAGRAM || frameType === FrameType.DATAGRAM_LEN) return (bit & (Z | O)) !== 0;
  if (frameType === FrameType.ACK_FREQUENCY) return bit === O;
  return false;
}

/** Packet carries at least one ack-eliciting frame (RFC 9002 section 2). */
export const PAYLOAD_ACK_ELICITING = 1;
/** Packet counts toward bytes in flight: ack-eliciting or PADDING (RFC 9002 section 2). */
export const PAYLOAD_IN_FLIGHT = 2;
/** Packet carries a frame other than PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and PADDING (RFC 9000 section 9.1). */
export const PAYLOAD_NON_PROBING = 4;

/**
 * Summary flags of one frame type: a combination of
 * {@link PAYLOAD_ACK_ELICITING}, {@link PAYLOAD_IN_FLIGHT} and
 * {@link PAYLOAD_NON_PROBING}. OR them over a packet's frames to get the
 * packet's properties.
 */
export function frameTypeFlags(frameType: number): number {
  switch (frameType) {
    // Not ack-eliciting, not in flight (RFC 9000 Table 3 "N" and "C" marks).
    case FrameType.ACK:
    case FrameType.ACK_ECN:
      return PAYLOAD_NON_PROBING;
    // "N" only: CONNECTION_CLOSE is not ack-eliciting; RFC 9002 section 2 leaves it out of flight too.
    case FrameType.CONNECTION_CLOSE:
    case FrameType.CONNECTION_CLOSE_APP:
      return PAYLOAD_NON_PROBING;
    // "NP": PADDING is not ack-eliciting but counts in flight and may probe.
    case FrameType.PADDING:
      return PAYLOAD_IN_FLIGHT;
    // "P": probing frames.
    case FrameType.NEW_CONNECTION_ID:
    case FrameType.PATH_CHALLENGE:
    case FrameType.PATH_RESPONSE:
      return PAYLOAD_ACK_ELICITING | PAYLOAD_IN_FLIGHT;
    default:
      // Every other frame, extensions included, is ack-eliciting (RFC 9000 section 19.21, RFC 9221 section 5.2).
      return PAYLOAD_ACK_ELICITING | PAYLOAD_IN_FLIGHT | PAYLOAD_NON_PROBING;
  }
}

/** True for frame types other than ACK, PADDING and CONNECTION_CLOSE (RFC 9002 section 2). */
export function isAckElicitingType(frameType: number): boolean {
  return (frameTypeFlags(frameType) & PAYLOAD_ACK_ELICITING) !== 0;
}

/** True for frame types that make a packet count toward bytes in flight: ack-eliciting ones and PADDING (RFC 9002 section 2). */
export function countsInFlightType(frameType: number): boolean {
  return (frameTypeFlags(frameType) & PAYLOAD_IN_FLIGHT) !== 0;
}

/** True for probing frame types: PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID, PADDING (RFC 9000 section 9.1). */
export function isProbingType(frameType: number): boolean {
  return (frameTypeFlags(frameType) & PAYLOAD_NON_PROBING) === 0;
}

/** True for every decoded frame except ACK, PADDING and CONNECTION_CLOSE (RFC 9002 section 2). */
export function isAckEliciting(frame: Frame): boolean {
  const t = frame.type;
  return t !== "ack" && t !== "padding" && t !== "connection_close";
}

/** True when a packet carrying `frame` counts toward bytes in flight (RFC 9002 section 2). */
export function countsInFlight(frame: Frame): boolean {
  const t = frame.type;
  return t !== "ack" && t !== "connection_close";
}

/** True for probing frames (RFC 9000 section 9.1). */
export function isProbingFrame(frame: Frame): boolean {
  const t = frame.type;
  return t === "path_challenge" || t === "path_response" || t === "new_connection_id" || t === "padding";
}
