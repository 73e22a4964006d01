/**
 * Flow-control credit (RFC 9000 section 4): the receive window we advertise
 * (stream and connection level share {@link ReceiveWindow}) and the
 * connection-level controller {@link ConnectionFlowControl}.
 */
import { QuicTransportError, TransportErrorCode } from "../errors.js";
import { StreamFrameType } from "./frames.js";

/**
 * Factor by which the connection window is kept above the largest stream
 * window, so that one auto-tuned stream is never held back by the connection
 * limit alone (quiche uses the same 1.5).
 */
export const CONNECTION_WINDOW_FACTOR = 1.5;

/**
 * The receive side of one flow-control scope (a stream or the connection).
 *
 * `limit` is the largest maximum we have advertised (MAX_STREAM_DATA or
 * MAX_DATA); `window` is how far beyond the consumed offset we let the
 * peer run. An update is due once less than half the window remains, so the
 * peer always has at least half a window of credit in flight (RFC 9000
 * section 4.2 leaves the strategy to the receiver).
 *
 * Auto-tuning: if two consecutive updates are less than two round trips
 * apart, the application reads faster than the window lets the peer send,
 * so the window doubles, up to `maxWindow`. This is the scheme of quinn and
 * quiche.
 */
export class ReceiveWindow {
  /** The largest limit advertised to the peer (absolute offset). */
  limit: number;
  /** Current window size in bytes. */
  window: number;
  /** Ceiling for auto-tuning. */
  readonly maxWindow: number;
  /** Time (ms) of the last update that moved the limit, for auto-tuning. */
  private lastUpdate: number | undefined;

  /**
   * @param initialWindow the initial limit, as sent in the transport parameters.
   * @param maxWindow auto-tuning ceiling; never below `initialWindow`.
   */
  constructor(initialWindow: number, maxWindow: number) {
    this.limit = initialWindow;
    this.window = initialWindow;
    this.maxWindow = Math.max(initialWindow, maxWindow);
  }

  /** True when less than half the window remains beyond `consumed`. */
  needsUpdate(consumed: number): boolean {
    return this.window > 0 && this.limit - consumed < this.window / 2;
  }

  /**
   * Moves the limit to `consumed + window`, first doubling the window when
   * the previous update was less than `2 * rtt` ago. Returns the new limit.
   */
  update(consumed: number, now: number, rtt: number): number {
    if (this.lastUpdate !== undefined && now - this.lastUpdate < 2 * rtt) {
      this.window = Math.min(this.window * 2, this.maxWindow);
    }
    this.lastUpdate = now;
    this.limit = Math.max(this.limit, consumed + this.window);
    return this.limit;
  }

  /** Raises the window to at least `size` (bounded by `maxWindow`). */
  ensureWindow(size: number): void {
    if (size > this.window) this.window = Math.min(size, this.maxWindow);
  }
}

/**
 * Connection-level flow control (RFC 9000 section 4.1): how much new stream
 * data we may still send under the peer's MAX_DATA, and how much the peer may
 * send under ours.
 */
export class ConnectionFlowControl {
  /** Peer's MAX_DATA: the limit on the sum of our streams' highest sent offsets. */
  peerMaxData: number;
  /** Sum of the highest offsets sent on all our streams (new data only, never retransmissions). */
  sent = 0;
  /** The `peerMaxData` at which we last sent DATA_BLOCKED, -1 when none (one frame per limit). */
  blockedReportedAt = -1;

  /** Our receive window and advertised MAX_DATA. */
  readonly recv: ReceiveWindow;
  /** Sum of the highest received offsets (or final sizes) of all peer streams (RFC 9000 section 4.1). */
  received = 0;
  /** Bytes the application has consumed or that were discarded (reset or stopped streams). */
  consumed = 0;

  /**
   * @param initialMaxData our initial_max_data transport parameter.
   * @param maxWindow auto-tuning ceiling for the connection window.
   */
  constructor(initialMaxData: number, maxWindow: number) {
    this.recv = new ReceiveWindow(initialMaxData, maxWindow);
    this.peerMaxData = 0;
  }

  /** Bytes of new stream data the peer still lets us send. */
  get sendCredit(): number {
    return Math.max(0, this.peerMaxData - this.sent);
  }

  /**
   * Applies the peer's MAX_DATA (RFC 9000 section 19.9). A value that does
   * not increase the limit is ignored (reordered frames). Returns true when
   * the limit rose.
   */
  onMaxData(maximum: number): boolean {
    if (maximum <= this.peerMaxData) return false;
    this.peerMaxData = maximum;
    return true;
  }

  /** Records `n` bytes of new (never sent before) stream data. */
  onSent(n: number): void {
    this.sent += n;
  }

  /**
   * Records an increase of `delta` in the sum of the peer streams' highest
   * offsets. Throws FLOW_CONTROL_ERROR when the sum exceeds the MAX_DATA we
   * advertised (RFC 9000 sections 4.1 and 19.9).
   */
  onReceived(delta: number, frameType: number = StreamFrameType.STREAM): void {
    if (delta <= 0) return;
    this.received += delta;
    if (this.received > this.recv.limit) {
      throw new QuicTransportError(
        TransportErrorCode.FLOW_CONTROL_ERROR,
        `connection data ${this.received} exceeds MAX_DATA ${this.recv.limit}`,
        frameType,
      );
    }
  }

  /** Records `delta` bytes consumed by the application or discarded. */
  onConsumed(delta: number): void {
    if (delta > 0) this.consumed += delta;
  }

  /** True when a MAX_DATA update is due. */
  needsMaxData(): boolean {
    return this.recv.needsUpdate(this.consumed);
  }
}
