/**
 * QUIC frame codec: types, decoders, encoders, size helpers and the
 * per-packet-type rules (RFC 9000 sections 12.4, 12.5 and 19; RFC 9002
 * section 2; RFC 9221; draft-ietf-quic-ack-frequency).
 */
export * from "./types.js";
export * from "./rules.js";
export * from "./decode.js";
export * from "./encode.js";
export {
  encodeAckDelay,
  decodeAckDelay,
  ackFrameToRangeSet,
  ackFrameFromRangeSet,
  ackFrameSizeForRanges,
  putAckFrameForRanges,
  ackRangesThatFit,
} from "./ack.js";
