/**
 * The quantities a peer can make a connection hold in memory, each bounded
 * by a limit (RFC 9000 section 21 lists the attacks). Reported by
 * `Connection.resourceUsage()` so operators and tests can watch them.
 */
export interface ResourceUsage {
  /** Streams open in at least one direction (bounded by our MAX_STREAMS). */
  streams: number;
  /** Received stream bytes not yet read, all streams (bounded by the connection receive window). */
  recvBufferedBytes: number;
  /** Bytes buffered for sending, all streams (bounded by `maxSendBuffer`). */
  sendBufferedBytes: number;
  /** Most reassembly fragments held by one stream (bounded by `maxStreamReassemblyFragments`). */
  maxStreamFragments: number;
  /** Out-of-order CRYPTO bytes held, all levels (bounded per level by CRYPTO_REORDER_LIMIT). */
  cryptoBufferedBytes: number;
  /** Out-of-order CRYPTO fragments held, all levels (bounded per level by CRYPTO_MAX_FRAGMENTS). */
  cryptoFragments: number;
  /** Received packet-number ranges remembered, all spaces (bounded by the ACK trackers' maxTrackedRanges). */
  ackRangesTracked: number;
  /** Connection IDs the peer issued that we hold (bounded by active_connection_id_limit). */
  peerConnectionIds: number;
  /** Connection IDs we issued that are active (we issue at most the peer's active_connection_id_limit). */
  localConnectionIds: number;
  /** Control frames queued for sending: stream-level ones, RETIRE_CONNECTION_ID and NEW_CONNECTION_ID (PATH_RESPONSE is capped by the path manager). */
  queuedControlFrames: number;
  /** RETIRE_CONNECTION_ID frames queued (bounded by `maxPendingRetireConnectionIds`). */
  queuedRetireConnectionIds: number;
  /** Packets buffered until their keys arrive (bounded by `maxUndecryptablePackets`). */
  undecryptablePackets: number;
}
