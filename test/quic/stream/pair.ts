/**
 * Two StreamManagers joined by an in-memory link, for tests: frames are
 * pulled from one side as the connection would, delivered to the other,
 * then acknowledged or declared lost on the sender.
 */
import { StreamManager, type StreamEvent, type StreamFrameData, type StreamLimits, type StreamManagerOptions } from "../../../src/quic/stream/index.js";
import type { StreamControlFrame } from "../../../src/quic/stream/index.js";

/** Transport parameters with every limit set to `n` streams and `w` bytes. */
export function limits(w: number, n: number, maxData = w * 4): StreamLimits {
  return {
    initialMaxData: maxData,
    initialMaxStreamDataBidiLocal: w,
    initialMaxStreamDataBidiRemote: w,
    initialMaxStreamDataUni: w,
    initialMaxStreamsBidi: n,
    initialMaxStreamsUni: n,
  };
}

/** Delivers a control frame to the peer's handler. */
export function deliverControl(to: StreamManager, f: StreamControlFrame): void {
  switch (f.type) {
    case "reset_stream":
      return to.onResetStream(f.streamId, f.errorCode, f.finalSize);
    case "stop_sending":
      return to.onStopSending(f.streamId, f.errorCode);
    case "max_data":
      return to.onMaxData(f.maximum);
    case "max_stream_data":
      return to.onMaxStreamData(f.streamId, f.maximum);
    case "max_streams":
      return to.onMaxStreams(f.bidi, f.maximum);
    case "data_blocked":
      return to.onDataBlocked(f.limit);
    case "stream_data_blocked":
      return to.onStreamDataBlocked(f.streamId, f.limit);
    case "streams_blocked":
      return to.onStreamsBlocked(f.bidi, f.limit);
  }
}

/** Options of {@link Pair.flush}. */
export interface FlushOptions {
  /** Returns true to lose the frame. */
  lose?: (kind: "control" | "stream") => boolean;
  /** Bytes per frame budget. */
  frameBytes?: number;
}

/** A client and a server StreamManager with a fake clock. */
export class Pair {
  readonly client: StreamManager;
  readonly server: StreamManager;
  now = 0;
  rtt = 10;
  /** Every control frame each side sent, for assertions. */
  readonly sentControl = { client: [] as StreamControlFrame[], server: [] as StreamControlFrame[] };

  constructor(client: Omit<StreamManagerOptions, "isClient">, server: Omit<StreamManagerOptions, "isClient">) {
    this.client = new StreamManager({ ...client, isClient: true });
    this.server = new StreamManager({ ...server, isClient: false });
    this.client.setPeerLimits(server.local);
    this.server.setPeerLimits(client.local);
  }

  /** Moves everything `from` has to send to its peer; returns the number of frames. */
  flush(from: StreamManager, opts: FlushOptions = {}): number {
    const to = from === this.client ? this.server : this.client;
    const log = from === this.client ? this.sentControl.client : this.sentControl.server;
    const budget = opts.frameBytes ?? 1200;
    const control: StreamControlFrame[] = [];
    const data: StreamFrameData[] = [];
    for (let f = from.nextControlFrame(budget, this.now, this.rtt); f; f = from.nextControlFrame(budget, this.now, this.rtt)) control.push(f);
    for (let f = from.nextStreamFrame(budget); f; f = from.nextStreamFrame(budget)) data.push(f);
    for (const f of control) {
      log.push(f);
      if (opts.lose?.("control")) from.onControlFrameLost(f);
      else {
        deliverControl(to, f);
        from.onControlFrameAcked(f);
      }
    }
    for (const f of data) {
      if (opts.lose?.("stream")) from.onStreamFrameLost(f.streamId, f.offset, f.data.length, f.fin);
      else {
        // Copy as a network would.
        to.onStreamFrame(f.streamId, f.offset, f.data.slice(), f.fin);
        from.onStreamFrameAcked(f.streamId, f.offset, f.data.length, f.fin);
      }
    }
    return control.length + data.length;
  }

  /** Flushes both ways until nothing moves (bounded), advancing the clock one RTT per round. */
  run(opts: FlushOptions = {}, maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      const n = this.flush(this.client, opts) + this.flush(this.server, opts);
      this.now += this.rtt;
      if (n === 0) return;
    }
    throw new Error("pair did not settle");
  }
}

/** Drains all events of a manager. */
export function drain(m: StreamManager): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (let e = m.pollEvent(); e; e = m.pollEvent()) out.push(e);
  return out;
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
