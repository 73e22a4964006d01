/**
 * The control frames the stream layer asks the connection to send: the frame
 * codec's own objects (src/quic/frames/types.ts), so they are encoded as they
 * are; the connection keeps
 * each one in its sent-packet record and hands it back through
 * `StreamManager.onControlFrameAcked` or `onControlFrameLost`, which decides
 * whether a fresh copy is needed (RFC 9000 section 13.3).
 */
import { varintLength } from "../varint.js";

/** Frame type values of the frames handled here (RFC 9000 section 19, Table 3). */
export const StreamFrameType = {
  RESET_STREAM: 0x04,
  STOP_SENDING: 0x05,
  /** STREAM is 0x08-0x0f: OFF 0x04, LEN 0x02 and FIN 0x01 bits (RFC 9000 section 19.8). */
  STREAM: 0x08,
  MAX_DATA: 0x10,
  MAX_STREAM_DATA: 0x11,
  MAX_STREAMS_BIDI: 0x12,
  MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14,
  STREAM_DATA_BLOCKED: 0x15,
  STREAMS_BLOCKED_BIDI: 0x16,
  STREAMS_BLOCKED_UNI: 0x17,
} as const;

import type {
  DataBlockedFrame,
  MaxDataFrame,
  MaxStreamDataFrame,
  MaxStreamsFrame,
  ResetStreamFrame,
  StopSendingFrame,
  StreamDataBlockedFrame,
  StreamsBlockedFrame,
} from "../frames/types.js";

export type {
  DataBlockedFrame,
  MaxDataFrame,
  MaxStreamDataFrame,
  MaxStreamsFrame,
  ResetStreamFrame,
  StopSendingFrame,
  StreamDataBlockedFrame,
  StreamsBlockedFrame,
};

/** Any control frame the stream layer produces. */
export type StreamControlFrame =
  | ResetStreamFrame
  | StopSendingFrame
  | MaxDataFrame
  | MaxStreamDataFrame
  | MaxStreamsFrame
  | DataBlockedFrame
  | StreamDataBlockedFrame
  | StreamsBlockedFrame;

/**
 * Encoded size in bytes of a control frame: every type here fits a one-byte
 * varint, followed by its varint fields (RFC 9000 sections 16 and 19).
 */
export function controlFrameSize(f: StreamControlFrame): number {
  switch (f.type) {
    case "reset_stream":
      return 1 + varintLength(f.streamId) + varintLength(f.errorCode) + varintLength(f.finalSize);
    case "stop_sending":
      return 1 + varintLength(f.streamId) + varintLength(f.errorCode);
    case "max_data":
    case "max_streams":
      return 1 + varintLength(f.maximum);
    case "max_stream_data":
      return 1 + varintLength(f.streamId) + varintLength(f.maximum);
    case "data_blocked":
    case "streams_blocked":
      return 1 + varintLength(f.limit);
    case "stream_data_blocked":
      return 1 + varintLength(f.streamId) + varintLength(f.limit);
  }
}

/**
 * Worst-case size of a STREAM frame header carrying `payloadMax` bytes at
 * `offset`: type byte, Stream ID, Offset (omitted at 0) and Length
 * (RFC 9000 section 19.8).
 */
export function streamFrameOverhead(streamId: number, offset: number, payloadMax: number): number {
  return 1 + varintLength(streamId) + (offset > 0 ? varintLength(offset) : 0) + varintLength(Math.max(0, payloadMax));
}
