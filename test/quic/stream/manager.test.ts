import { test } from "node:test";
import assert from "node:assert/strict";
import {
  RecvState,
  SendBufferFullError,
  SendState,
  StreamManager,
  StreamUsageError,
  type StreamControlFrame,
} from "../../../src/quic/stream/index.js";
import { QuicTransportError, TransportErrorCode } from "../../../src/quic/errors.js";
import { bytes, drain, limits, Pair } from "./pair.js";

function throwsCode(fn: () => void, code: number): void {
  assert.throws(fn, (e: unknown) => e instanceof QuicTransportError && e.errorCode === code, `expected error 0x${code.toString(16)}`);
}

function server(l = limits(1000, 10)): StreamManager {
  const m = new StreamManager({ isClient: false, local: l });
  m.setPeerLimits(limits(1000, 10));
  return m;
}

function controls(m: StreamManager, now = 0, rtt = 10): StreamControlFrame[] {
  const out: StreamControlFrame[] = [];
  for (let f = m.nextControlFrame(1200, now, rtt); f; f = m.nextControlFrame(1200, now, rtt)) out.push(f);
  return out;
}

test("stream IDs: client 0,4,8 / 2,6; server 1,5 / 3,7 (RFC 9000 section 2.1)", () => {
  const c = new StreamManager({ isClient: true, local: limits(100, 10) });
  c.setPeerLimits(limits(100, 3));
  assert.deepEqual([0, 1, 2].map(() => c.openStream(true)!.id), [0, 4, 8]);
  assert.deepEqual([0, 1].map(() => c.openStream(false)!.id), [2, 6]);
  const s = server();
  assert.deepEqual([s.openStream(true)!.id, s.openStream(true)!.id, s.openStream(false)!.id], [1, 5, 3]);
  const uni = c.getStream(2)!;
  assert.ok(uni.send && !uni.recv, "our unidirectional stream is send-only");
  assert.throws(() => uni.read(), StreamUsageError);
});

test("openStream within the peer's MAX_STREAMS; STREAMS_BLOCKED once per limit; streams_available", () => {
  const c = new StreamManager({ isClient: true, local: limits(100, 10) });
  c.setPeerLimits(limits(100, 2));
  assert.ok(c.openStream(true));
  assert.ok(c.openStream(true));
  assert.equal(c.openStream(true), null);
  assert.equal(c.openStream(true), null);
  assert.deepEqual(controls(c), [{ type: "streams_blocked", bidi: true, limit: 2 }]);
  assert.equal(c.openStream(true), null);
  assert.deepEqual(controls(c), [], "not again for the same limit");
  c.onMaxStreams(true, 1); // smaller: ignored
  c.onMaxStreams(true, 3);
  assert.deepEqual(drain(c), [{ type: "streams_available", bidi: true }]);
  assert.equal(c.openStream(true)!.id, 8);
  throwsCode(() => c.onMaxStreams(true, 2 ** 61), TransportErrorCode.FRAME_ENCODING_ERROR);
});

test("peer streams open all lower streams of their type; STREAM_LIMIT_ERROR beyond our limit", () => {
  const s = server(limits(1000, 3));
  s.onStreamFrame(8, 0, new Uint8Array([1]), false); // client bidi index 2 opens 0 and 4
  const ev = drain(s);
  assert.deepEqual(
    ev.filter((e) => e.type === "opened").map((e) => (e as { streamId: number }).streamId),
    [0, 4, 8],
  );
  assert.ok(s.getStream(0) && s.getStream(4));
  throwsCode(() => s.onStreamFrame(12, 0, new Uint8Array(1), false), TransportErrorCode.STREAM_LIMIT_ERROR);
  throwsCode(() => s.onMaxStreamData(14, 100), TransportErrorCode.STREAM_STATE_ERROR); // uni from client: receive-only for us
  throwsCode(() => s.onStreamFrame(14, 0, new Uint8Array(1), false), TransportErrorCode.STREAM_LIMIT_ERROR); // uni index 3 >= 3
  throwsCode(() => s.onStreamsBlocked(false, 2 ** 61), TransportErrorCode.FRAME_ENCODING_ERROR);
});

test("STREAM_STATE_ERROR for frames a stream cannot carry (RFC 9000 section 19)", () => {
  const s = server();
  s.openStream(false); // server uni 3: send-only
  throwsCode(() => s.onStreamFrame(3, 0, new Uint8Array(1), false), TransportErrorCode.STREAM_STATE_ERROR);
  throwsCode(() => s.onResetStream(3, 0, 0), TransportErrorCode.STREAM_STATE_ERROR);
  throwsCode(() => s.onStreamDataBlocked(3, 0), TransportErrorCode.STREAM_STATE_ERROR);
  // Client uni 2: receive-only for us.
  throwsCode(() => s.onMaxStreamData(2, 10), TransportErrorCode.STREAM_STATE_ERROR);
  throwsCode(() => s.onStopSending(2, 0), TransportErrorCode.STREAM_STATE_ERROR);
  // Our streams not yet opened.
  throwsCode(() => s.onStreamFrame(5, 0, new Uint8Array(1), false), TransportErrorCode.STREAM_STATE_ERROR);
  throwsCode(() => s.onMaxStreamData(1, 10), TransportErrorCode.STREAM_STATE_ERROR);
  throwsCode(() => s.onStopSending(7, 0), TransportErrorCode.STREAM_STATE_ERROR);
  // Valid: MAX_STREAM_DATA / STOP_SENDING open a peer's bidirectional stream (RFC 9000 section 3.2).
  s.onMaxStreamData(0, 5000);
  assert.equal(s.getStream(0)!.send!.maxStreamData, 5000);
});

test("connection flow control: FLOW_CONTROL_ERROR past MAX_DATA, reset final sizes count", () => {
  const s = server({ ...limits(800, 10), initialMaxData: 1000 });
  s.onStreamFrame(0, 0, new Uint8Array(600), false);
  s.onStreamFrame(0, 0, new Uint8Array(600), false); // duplicate: no double count
  throwsCode(() => s.onStreamFrame(4, 0, new Uint8Array(401), false), TransportErrorCode.FLOW_CONTROL_ERROR);

  const t = server({ ...limits(800, 10), initialMaxData: 1000 });
  t.onStreamFrame(0, 0, new Uint8Array(100), false);
  t.onResetStream(0, 5, 700); // final size 700 counts, not the 100 received
  assert.equal(t.conn.received, 700);
  t.onStreamFrame(4, 0, new Uint8Array(300), false);
  throwsCode(() => t.onStreamFrame(4, 300, new Uint8Array(1), false), TransportErrorCode.FLOW_CONTROL_ERROR);

  const u = server();
  throwsCode(() => u.onStreamFrame(0, 0, new Uint8Array(1001), false), TransportErrorCode.FLOW_CONTROL_ERROR); // stream level
});

test("send side: connection credit, DATA_BLOCKED and STREAM_DATA_BLOCKED once per limit", () => {
  const c = new StreamManager({ isClient: true, local: limits(1000, 10) });
  c.setPeerLimits({ ...limits(300, 10), initialMaxData: 500 });
  const a = c.openStream(true)!;
  const b = c.openStream(true)!;
  a.write(new Uint8Array(1000));
  b.write(new Uint8Array(1000));
  const frames = [];
  for (let f = c.nextStreamFrame(1200); f; f = c.nextStreamFrame(1200)) frames.push(f);
  assert.equal(
    frames.reduce((n, f) => n + f.data.length, 0),
    500,
  );
  assert.deepEqual(
    frames.map((f) => f.streamId),
    [0, 4],
    "round robin",
  );
  assert.deepEqual(controls(c), [
    { type: "data_blocked", limit: 500 },
    { type: "stream_data_blocked", streamId: 0, limit: 300 },
  ]);
  assert.equal(c.hasStreamData(), false);
  c.onMaxData(500); // not an increase
  assert.equal(c.hasStreamData(), false);
  c.onMaxData(2000);
  assert.equal(c.hasStreamData(), true);
  for (let f = c.nextStreamFrame(1200); f; f = c.nextStreamFrame(1200));
  const ctl = controls(c);
  assert.deepEqual(ctl, [{ type: "stream_data_blocked", streamId: 4, limit: 300 }]);
  assert.deepEqual(controls(c), [], "once per limit");
  assert.equal(c.conn.sent, 600);
  // Loss of a blocked frame: resent while still blocked at that limit.
  c.onControlFrameLost(ctl[0]!);
  assert.deepEqual(controls(c), [ctl[0]]);
  c.onMaxStreamData(4, 400);
  c.onControlFrameLost(ctl[0]!);
  assert.deepEqual(controls(c), [], "no longer blocked at 300");
  assert.equal(c.nextStreamFrame(1200)!.data.length, 100);
  assert.deepEqual(controls(c), [{ type: "stream_data_blocked", streamId: 4, limit: 400 }]);
});

test("round robin interleaves streams frame by frame", () => {
  const c = new StreamManager({ isClient: true, local: limits(1 << 20, 10) });
  c.setPeerLimits(limits(1 << 20, 10));
  const ids = [0, 1, 2].map(() => c.openStream(true)!);
  for (const s of ids) s.write(new Uint8Array(3000));
  const order = [];
  for (let i = 0; i < 6; i++) order.push(c.nextStreamFrame(1000)!.streamId);
  assert.deepEqual(order, [0, 4, 8, 0, 4, 8]);
});

test("lost stream data is resent; acked data is freed; finished and closed events", () => {
  const p = new Pair({ local: limits(1 << 20, 10) }, { local: limits(1 << 20, 10) });
  const s = p.client.openStream(false)!;
  const src = bytes(5000, 4);
  s.write(src, true);
  assert.equal(p.client.sendBufferedBytes, 5000);
  let n = 0;
  p.flush(p.client, { lose: () => n++ % 2 === 1 }); // lose every other frame
  assert.ok(p.client.sendBufferedBytes > 0 && p.client.sendBufferedBytes < 5000);
  p.run();
  assert.equal(p.client.sendBufferedBytes, 0);
  assert.equal(s.send!.state, SendState.DataRecvd);
  const evc = drain(p.client).map((e) => e.type);
  assert.deepEqual(evc, ["finished", "closed"]);
  const r = p.server.getStream(2)!;
  const parts: Uint8Array[] = [];
  for (let res = r.read(); res; res = r.read()) parts.push(res.data);
  assert.deepEqual(Buffer.concat(parts), Buffer.from(src));
  assert.equal(p.server.getStream(2), undefined, "closed after the FIN was read");
  assert.deepEqual(
    drain(p.server).map((e) => e.type),
    ["opened", "readable", "closed"],
  );
});

test("reset: RESET_STREAM with bytes sent so far, resent on loss, peer sees reset event and code", () => {
  const p = new Pair({ local: limits(1 << 20, 10) }, { local: limits(1 << 20, 10) });
  const s = p.client.openStream(true)!;
  s.write(new Uint8Array(3000));
  p.flush(p.client, { frameBytes: 1000 });
  s.write(new Uint8Array(3000));
  s.reset(77);
  assert.equal(p.client.sendBufferedBytes, 0);
  assert.equal(p.client.hasStreamData(), false);
  p.flush(p.client, { lose: (k) => k === "control" });
  assert.deepEqual(p.sentControl.client, [{ type: "reset_stream", streamId: 0, errorCode: 77, finalSize: 3000 }]);
  p.flush(p.client);
  assert.equal(s.send!.state, SendState.ResetRecvd);
  const ev = drain(p.server);
  assert.deepEqual(ev.at(-1), { type: "reset", streamId: 0, errorCode: 77, finalSize: 3000 });
  const rs = p.server.getStream(0)!;
  assert.equal(rs.recv!.state, RecvState.ResetRead);
  assert.equal(rs.read(), null);
  assert.equal(p.server.recvBufferedBytes, 0);
  // The server's credit for the discarded bytes was returned to the connection.
  assert.equal(p.server.conn.consumed, 3000);
});

test("stop-sending: peer must reset with our code (RFC 9000 section 3.5); stream closes both ways", () => {
  const p = new Pair({ local: limits(1 << 20, 10) }, { local: limits(1 << 20, 10) });
  const s = p.client.openStream(true)!;
  s.write(new Uint8Array(100));
  p.run();
  const srv = p.server.getStream(0)!;
  srv.stopSending(9);
  assert.equal(p.server.recvBufferedBytes, 0);
  p.flush(p.server);
  assert.deepEqual(p.sentControl.server.at(-1), { type: "stop_sending", streamId: 0, errorCode: 9 });
  assert.deepEqual(drain(p.client).at(-1), { type: "stop_sending", streamId: 0, errorCode: 9 });
  assert.equal(s.send!.state, SendState.ResetSent);
  assert.throws(() => s.write(new Uint8Array(1)), StreamUsageError);
  p.run();
  assert.deepEqual(p.sentControl.client.at(-1), { type: "reset_stream", streamId: 0, errorCode: 9, finalSize: 100 });
  assert.equal(s.send!.state, SendState.ResetRecvd);
  // Server finishes its side; the stream then closes on both ends.
  srv.finish();
  p.run();
  const r = s.read();
  assert.deepEqual(r, { data: new Uint8Array(0), fin: true });
  assert.equal(p.client.getStream(0), undefined);
  assert.equal(p.server.getStream(0), undefined);
  assert.equal(p.client.streamCount + p.server.streamCount, 0);
});

test("MAX_STREAMS replenishment lets 2,000 sequential streams through a limit of 100", () => {
  const p = new Pair({ local: limits(1 << 16, 100) }, { local: limits(1 << 16, 100) });
  let done = 0;
  let opened = 0;
  const open = new Set<number>();
  for (let round = 0; done < 2000 && round < 10000; round++) {
    // The client opens as many as it may (at most 2,000), each a tiny request.
    while (opened < 2000) {
      const s = p.client.openStream(true);
      if (!s) break;
      opened++;
      open.add(s.id);
      s.write(new Uint8Array([opened & 0xff]), true);
    }
    p.flush(p.client);
    // The server answers every readable request and finishes.
    for (let e = p.server.pollEvent(); e; e = p.server.pollEvent()) {
      if (e.type !== "readable") continue;
      const st = p.server.getStream(e.streamId)!;
      while (st.read());
      st.write(new Uint8Array([1, 2]), true);
    }
    p.flush(p.server);
    for (let e = p.client.pollEvent(); e; e = p.client.pollEvent()) {
      if (e.type === "readable") while (p.client.getStream(e.streamId)?.read());
      if (e.type === "closed") (done++, open.delete(e.streamId));
    }
    p.flush(p.client);
    p.flush(p.server);
  }
  assert.equal(done, 2000);
  assert.equal(p.server.streamCount, 0);
  assert.ok(p.sentControl.server.some((f) => f.type === "max_streams" && f.maximum >= 2000));
  assert.ok(p.sentControl.server.every((f) => f.type !== "max_streams" || f.maximum <= 2100));
});

test("STREAM_LIMIT_ERROR past the replenished limit", () => {
  const p = new Pair({ local: limits(1000, 2) }, { local: limits(1000, 2) });
  for (let i = 0; i < 2; i++) p.client.openStream(false)!.write(new Uint8Array(1), true);
  assert.equal(p.client.openStream(false), null);
  p.run();
  for (const id of [2, 6]) while (p.server.getStream(id)?.read());
  p.run();
  // Two streams closed: the server now allows 4 unidirectional streams.
  assert.deepEqual(p.sentControl.server, [{ type: "max_streams", bidi: false, maximum: 4 }]);
  assert.deepEqual(drain(p.client).at(-1), { type: "streams_available", bidi: false });
  throwsCode(() => p.server.onStreamFrame(18, 0, new Uint8Array(1), false), TransportErrorCode.STREAM_LIMIT_ERROR);
  p.server.onStreamFrame(14, 0, new Uint8Array(1), false);
});

test("late frames for closed streams are ignored", () => {
  const p = new Pair({ local: limits(1000, 10) }, { local: limits(1000, 10) });
  const s = p.client.openStream(false)!;
  s.write(new Uint8Array(10), true);
  p.run();
  while (p.server.getStream(2)?.read());
  assert.equal(p.server.getStream(2), undefined);
  p.server.onStreamFrame(2, 0, new Uint8Array(10), true);
  p.server.onResetStream(2, 0, 10);
  p.server.onStreamDataBlocked(2, 10);
  assert.equal(p.server.getStream(2), undefined);
  p.client.onStopSending(2, 1);
  p.client.onMaxStreamData(2, 1 << 20);
  assert.equal(p.client.getStream(2), undefined);
});

test("credit: MAX_STREAM_DATA and MAX_DATA as the application reads; window auto-tunes under fast reads", () => {
  const p = new Pair(
    { local: limits(1 << 16, 10, 1 << 16), maxStreamWindow: 1 << 20, maxConnectionWindow: 1 << 21 },
    { local: limits(1 << 16, 10, 1 << 16), maxStreamWindow: 1 << 20, maxConnectionWindow: 1 << 21 },
  );
  const total = 4 << 20;
  const src = bytes(total, 7);
  const s = p.client.openStream(false)!;
  let written = 0;
  const received: Uint8Array[] = [];
  let got = 0;
  for (let round = 0; got < total && round < 5000; round++) {
    while (written < total) {
      const n = Math.min(65536, total - written);
      const more = s.write(src.subarray(written, written + n), written + n === total);
      written += n;
      if (!more) break;
    }
    p.flush(p.client);
    const r = p.server.getStream(2);
    for (let res = r?.read(); res; res = r!.read()) (received.push(res.data), (got += res.data.length));
    p.flush(p.server);
    p.now += 1; // many rounds per RTT (10 ms): reads outpace the window
  }
  assert.equal(got, total);
  assert.deepEqual(Buffer.concat(received), Buffer.from(src));
  const msd = p.sentControl.server.filter((f) => f.type === "max_stream_data").map((f) => (f as { maximum: number }).maximum);
  const steps = msd.map((m, i) => m - (msd[i - 1] ?? 1 << 16));
  assert.ok(Math.max(...steps) > 1 << 16, "window grew beyond its initial 64 KiB");
  assert.ok(msd.length < 200, `few updates: ${msd.length}`);
  assert.ok(p.sentControl.server.some((f) => f.type === "max_data"));
  assert.ok(p.server.getStream(2) === undefined);
});

test("control frame loss: only the latest MAX_DATA / MAX_STREAM_DATA is resent", () => {
  const s = server({ ...limits(1000, 10), initialMaxData: 2000 });
  s.onStreamFrame(0, 0, new Uint8Array(1000), false);
  const st = s.getStream(0)!;
  st.read(600);
  const c1 = controls(s, 0, 10);
  const msd1 = c1.find((f) => f.type === "max_stream_data")!;
  assert.deepEqual(msd1, { type: "max_stream_data", streamId: 0, maximum: 1600 });
  st.read();
  s.onStreamFrame(0, 1000, new Uint8Array(600), false);
  st.read();
  const c2 = controls(s, 1000, 10);
  const msd2 = c2.find((f) => f.type === "max_stream_data")!;
  assert.ok(msd2 && (msd2 as { maximum: number }).maximum > 1600);
  s.onControlFrameLost(msd1);
  assert.deepEqual(controls(s), [], "stale value not resent");
  s.onControlFrameLost(msd2);
  assert.deepEqual(controls(s), [msd2]);
  const md = c2.find((f) => f.type === "max_data") ?? c1.find((f) => f.type === "max_data");
  assert.ok(md, "MAX_DATA sent once half the connection window was read");
});

test("send buffer: backpressure per stream and per connection, writable events, hard cap", () => {
  const c = new StreamManager({ isClient: true, local: limits(1000, 10), streamHighWaterMark: 1000, maxSendBuffer: 4000 });
  c.setPeerLimits(limits(1 << 20, 10));
  const a = c.openStream(true)!;
  assert.equal(a.write(new Uint8Array(500)), true);
  assert.equal(a.write(new Uint8Array(600)), false);
  const b = c.openStream(true)!;
  assert.equal(b.write(new Uint8Array(900)), false, "connection above half its cap");
  assert.throws(() => b.write(new Uint8Array(2001)), SendBufferFullError);
  const sent = [];
  for (let f = c.nextStreamFrame(1200); f; f = c.nextStreamFrame(1200)) sent.push(f);
  for (const f of sent) c.onStreamFrameAcked(f.streamId, f.offset, f.data.length, f.fin);
  assert.equal(c.sendBufferedBytes, 0);
  assert.deepEqual(
    drain(c).map((e) => e.type + ":" + (e as { streamId: number }).streamId).sort(),
    ["writable:0", "writable:4"],
  );
});

test("gapped data across streams cannot grow memory past the connection window", () => {
  const window = 16 * 1024;
  const s = server({ ...limits(window, 50), initialMaxData: 4 * window });
  const packet = new Uint8Array(1400);
  let err: unknown;
  try {
    for (let id = 0; id < 50 * 4; id += 4) {
      for (let off = 1; off < window; off += 1000) s.onStreamFrame(id, off, packet.subarray(0, 900), false);
    }
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof QuicTransportError && err.errorCode === TransportErrorCode.FLOW_CONTROL_ERROR);
  assert.ok(s.recvBufferedBytes <= 4 * window, `${s.recvBufferedBytes}`);
});

test("control frame loss: STOP_SENDING resent until the peer resets; MAX_STREAMS resent if latest", () => {
  const s = server(limits(1000, 2));
  s.onStreamFrame(0, 0, new Uint8Array(10), false);
  s.onStreamFrame(4, 0, new Uint8Array(10), true);
  s.getStream(0)!.stopSending(5);
  const [stop] = controls(s);
  assert.deepEqual(stop, { type: "stop_sending", streamId: 0, errorCode: 5 });
  s.onControlFrameLost(stop!);
  assert.deepEqual(controls(s), [stop]);
  s.onResetStream(0, 5, 10);
  s.onControlFrameLost(stop!);
  assert.deepEqual(controls(s), [], "peer already reset");
  // Close both peer streams: the server finishes and the client's acks arrive.
  for (const id of [0, 4]) {
    const st = s.getStream(id)!;
    while (st.read());
    st.finish();
    const f = s.nextStreamFrame(1200)!;
    s.onStreamFrameAcked(f.streamId, f.offset, f.data.length, f.fin);
  }
  assert.equal(s.streamCount, 0);
  const ms = controls(s);
  assert.deepEqual(ms, [{ type: "max_streams", bidi: true, maximum: 4 }]);
  s.onControlFrameLost(ms[0]!);
  assert.deepEqual(controls(s), ms);
});
