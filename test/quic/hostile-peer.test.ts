/**
 * A hostile peer cannot push a connection's memory past its configured
 * bounds (RFC 9000 section 21): each test crafts frames a real peer would
 * not send, injects them with the peer's keys, and watches the bounded
 * quantities through Connection.resourceUsage().
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Connection } from "../../src/quic/connection.js";
import { TransportErrorCode } from "../../src/quic/errors.js";
import type { Frame } from "../../src/quic/frames/index.js";
import { CRYPTO_MAX_FRAGMENTS } from "../../src/quic/crypto-stream.js";
import { SendBufferFullError } from "../../src/quic/stream/manager.js";
import { drain, establish, forgeClientPacket, forgePacket, makePair, type Pair, type PairOptions } from "./harness.js";

/** An established pair whose client is the hostile peer; its forged packets get increasing packet numbers. */
function hostile(opts: PairOptions = {}): { p: Pair; server: Connection; send(frames: Frame[]): void } {
  const p = makePair(opts);
  const server = establish(p);
  drain(server);
  drain(p.conn);
  let pn = p.conn.recovery.largestSent(2) + 1000;
  return {
    p,
    server,
    send(frames: Frame[]): void {
      p.link.inject(0, forgeClientPacket(p, frames, { pn: pn++ }));
      p.link.run(() => false, 30);
    },
  };
}

const streamFrame = (streamId: number, offset: number, length: number): Frame => ({ type: "stream", streamId, offset, data: new Uint8Array(length), fin: false });

test("a peer that never reads cannot make us buffer more than maxSendBuffer: writes past it fail with ERR_QUIC_SEND_BUFFER_FULL", () => {
  const cap = 256 * 1024;
  const p = makePair({ serverConfig: { maxSendBuffer: cap } });
  const server = establish(p);
  // The client opens streams and never reads what the server writes.
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) {
    const s = p.conn.openStream(true)!;
    p.conn.streamWrite(s.id, new Uint8Array(1), false);
    ids.push(s.id);
  }
  p.link.run(() => ids.every((id) => server.getStream(id) !== undefined), 1_000);
  let refused: unknown;
  const chunk = new Uint8Array(16 * 1024);
  outer: for (let round = 0; round < 64; round++) {
    for (const id of ids) {
      try {
        server.streamWrite(id, chunk);
      } catch (e) {
        refused = e;
        break outer;
      }
    }
    p.link.run(() => false, 50);
    assert.ok(server.resourceUsage().sendBufferedBytes <= cap);
  }
  assert.ok(refused instanceof SendBufferFullError, `expected SendBufferFullError, got ${String(refused)}`);
  assert.equal((refused as SendBufferFullError).code, "ERR_QUIC_SEND_BUFFER_FULL");
  assert.ok(server.resourceUsage().sendBufferedBytes <= cap, `${server.resourceUsage().sendBufferedBytes} buffered`);
  assert.equal(server.isClosing, false, "backpressure is the application's business, not a connection error");
});

test("stream data with gaps is held within the stream window; data beyond it is FLOW_CONTROL_ERROR (RFC 9000 section 4.1)", () => {
  const window = 32 * 1024;
  const h = hostile({ serverConfig: { transport: { initialMaxStreamDataBidiRemote: window } } });
  // Offset 0 never arrives: everything stays buffered.
  for (let off = 1; off + 1000 <= window; off += 1100) h.send([streamFrame(0, off, 1000)]);
  const used = h.server.resourceUsage();
  assert.ok(used.recvBufferedBytes > 20_000 && used.recvBufferedBytes <= window, `${used.recvBufferedBytes} buffered`);
  assert.equal(h.server.isClosing, false);
  h.send([streamFrame(0, window, 1)]);
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.FLOW_CONTROL_ERROR);
});

test("gapped data over many streams is held within the connection window; beyond it is FLOW_CONTROL_ERROR", () => {
  const connWindow = 64 * 1024;
  const h = hostile({ serverConfig: { transport: { initialMaxData: connWindow, initialMaxStreamDataBidiRemote: 30 * 1024 } } });
  h.send([streamFrame(0, 1, 30 * 1024 - 1)]);
  h.send([streamFrame(4, 1, 30 * 1024 - 1)]);
  const used = h.server.resourceUsage();
  assert.equal(used.recvBufferedBytes, 2 * (30 * 1024 - 1));
  assert.equal(used.streams, 2);
  assert.equal(h.server.isClosing, false);
  h.send([streamFrame(8, 1, 8 * 1024)]);
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.FLOW_CONTROL_ERROR);
});

test("many tiny gapped STREAM frames are capped by maxStreamReassemblyFragments: PROTOCOL_VIOLATION past it (RFC 9000 section 21.7)", () => {
  const cap = 64;
  const h = hostile({ serverConfig: { maxStreamReassemblyFragments: cap } });
  // One-byte frames at every other offset: no two fragments can be merged.
  const frames = (from: number, n: number): Frame[] => Array.from({ length: n }, (_, i) => streamFrame(0, 1 + 2 * (from + i), 1));
  h.send(frames(0, cap));
  const used = h.server.resourceUsage();
  assert.equal(used.maxStreamFragments, cap);
  assert.equal(used.recvBufferedBytes, cap);
  assert.equal(h.server.isClosing, false);
  h.send(frames(cap, 1));
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION);
  assert.match(h.server.closeInfo!.reason, /gaps awaiting reassembly/);
});

test("tiny contiguous STREAM frames after a gap are merged, not counted one by one", () => {
  const h = hostile({ serverConfig: { maxStreamReassemblyFragments: 16 } });
  // 2,000 one-byte frames, contiguous from offset 1: one fragment however many frames.
  for (let base = 1; base < 2001; base += 200) h.send(Array.from({ length: 200 }, (_, i) => streamFrame(0, base + i, 1)));
  const used = h.server.resourceUsage();
  assert.equal(h.server.isClosing, false, h.server.closeInfo?.reason);
  assert.ok(used.maxStreamFragments <= 16, `${used.maxStreamFragments} fragments`);
  assert.equal(used.recvBufferedBytes, 2000);
});

test("CRYPTO data far ahead of the handshake is CRYPTO_BUFFER_EXCEEDED (RFC 9000 section 7.5)", () => {
  const h = hostile();
  h.send([{ type: "crypto", offset: 1024 * 1024, data: new Uint8Array(10) }]);
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.CRYPTO_BUFFER_EXCEEDED);
});

test("many gapped CRYPTO fragments are capped at CRYPTO_MAX_FRAGMENTS: CRYPTO_BUFFER_EXCEEDED past it", () => {
  const h = hostile();
  const frames = (from: number, n: number): Frame[] => Array.from({ length: n }, (_, i) => ({ type: "crypto", offset: 1 + 2 * (from + i), data: new Uint8Array(1) }) as Frame);
  for (let i = 0; i < CRYPTO_MAX_FRAGMENTS; i += 128) h.send(frames(i, 128));
  const used = h.server.resourceUsage();
  assert.equal(used.cryptoFragments, CRYPTO_MAX_FRAGMENTS);
  assert.equal(used.cryptoBufferedBytes, CRYPTO_MAX_FRAGMENTS);
  assert.equal(h.server.isClosing, false);
  h.send(frames(CRYPTO_MAX_FRAGMENTS, 1));
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.CRYPTO_BUFFER_EXCEEDED);
});

test("packets with gaps in their numbers leave a bounded number of tracked ranges (RFC 9000 section 13.2.3)", () => {
  const h = hostile();
  const base = h.p.conn.recovery.largestSent(2) + 10;
  // 3,000 packets at every other number: 3,000 ranges if nothing were forgotten.
  for (let i = 0; i < 3000; i++) h.p.link.inject(0, forgeClientPacket(h.p, [{ type: "ping" }], { pn: base + 2 * i }));
  h.p.link.run(() => false, 100);
  const used = h.server.resourceUsage();
  assert.equal(h.server.isClosing, false);
  assert.ok(used.ackRangesTracked <= 1024 + 2, `${used.ackRangesTracked} ranges tracked`);
  assert.ok(h.server.stats().packetsReceived >= 3000);
});

test("ACK frames with hundreds of ranges for packets we sent cost nothing to keep", () => {
  const h = hostile();
  // Give the server packets to be acknowledged.
  for (let i = 0; i < 10; i++) {
    h.p.conn.ping();
    h.p.link.run(() => false, 30);
  }
  const largest = h.server.recovery.largestSent(2);
  assert.ok(largest >= 8, `server sent up to ${largest}`);
  const before = h.server.resourceUsage();
  // Ranges of one packet separated by one-packet gaps, all below what the server sent.
  const ranges: number[] = [];
  for (let hi = largest; hi >= 0 && ranges.length < 600; hi -= 2) ranges.push(hi, hi);
  for (let i = 0; i < 20; i++) h.send([{ type: "ack", largest, ackDelay: 0, ranges, ecn: null }]);
  assert.equal(h.server.isClosing, false, h.server.closeInfo?.reason);
  const after = h.server.resourceUsage();
  assert.equal(after.queuedControlFrames, before.queuedControlFrames);
  assert.ok(after.ackRangesTracked <= before.ackRangesTracked + 20);
});

test("NEW_CONNECTION_ID beyond active_connection_id_limit is CONNECTION_ID_LIMIT_ERROR (RFC 9000 section 5.1.1)", () => {
  const h = hostile({ serverConfig: { transport: { activeConnectionIdLimit: 4 } } });
  const ncid = (seq: number, retirePriorTo = 0): Frame => ({
    type: "new_connection_id",
    sequence: seq,
    retirePriorTo,
    connectionId: new Uint8Array(8).fill(seq),
    statelessResetToken: new Uint8Array(16).fill(seq),
  });
  // The client already issued some; push far past the limit.
  h.send(Array.from({ length: 8 }, (_, i) => ncid(100 + i)));
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.CONNECTION_ID_LIMIT_ERROR);
});

test("NEW_CONNECTION_ID retiring faster than we can answer is bounded: a slow flood is served, a burst is CONNECTION_ID_LIMIT_ERROR (RFC 9000 section 5.1.2)", () => {
  const h = hostile({ serverConfig: { transport: { activeConnectionIdLimit: 4 }, maxPendingRetireConnectionIds: 8 } });
  let seq = 1000;
  const next = (): Frame => {
    const s = seq++;
    return { type: "new_connection_id", sequence: s, retirePriorTo: s, connectionId: new Uint8Array(8).fill(s & 0xff).map((b, i) => (i < 4 ? (s >> (8 * i)) & 0xff : b)), statelessResetToken: new Uint8Array(16).fill(s & 0xff) };
  };
  // Four per packet, 100 packets: each frame retires every earlier CID.
  for (let i = 0; i < 100; i++) {
    h.send([next(), next(), next(), next()]);
    const used = h.server.resourceUsage();
    assert.ok(used.peerConnectionIds <= 4, `${used.peerConnectionIds} peer CIDs`);
    assert.ok(used.queuedRetireConnectionIds <= 8, `${used.queuedRetireConnectionIds} retirements queued`);
  }
  assert.equal(h.server.isClosing, false, h.server.closeInfo?.reason);
  // Sixteen in one packet queue sixteen retirements before we can send one.
  h.send(Array.from({ length: 16 }, next));
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.CONNECTION_ID_LIMIT_ERROR);
  assert.match(h.server.closeInfo!.reason, /RETIRE_CONNECTION_ID/);
});

test("a RETIRE_CONNECTION_ID flood keeps our issued CIDs at the peer's limit; an unissued sequence is PROTOCOL_VIOLATION (RFC 9000 section 19.16)", () => {
  const h = hostile();
  const limit = h.p.conn.localParams.activeConnectionIdLimit;
  for (let round = 0; round < 50; round++) {
    // Retire everything but the CID the packets use, then also repeat old sequence numbers.
    const inUse = h.server.localCids.active.find((e) => e.cid.every((b, i) => b === h.p.conn.peerCids.current.cid[i]))?.sequence;
    const frames: Frame[] = h.server.localCids.active.filter((e) => e.sequence !== inUse).map((e) => ({ type: "retire_connection_id", sequence: e.sequence }) as Frame);
    if (round > 0) frames.push({ type: "retire_connection_id", sequence: 1 }); // already retired: ignored
    h.send(frames);
    const used = h.server.resourceUsage();
    assert.ok(used.localConnectionIds <= limit, `${used.localConnectionIds} local CIDs, peer limit ${limit}`);
    assert.ok(used.queuedControlFrames <= limit + 1, `${used.queuedControlFrames} control frames queued`);
  }
  assert.equal(h.server.isClosing, false, h.server.closeInfo?.reason);
  h.send([{ type: "retire_connection_id", sequence: 1_000_000 }]);
  assert.equal(h.server.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION);
});

test("a STREAMS_BLOCKED flood queues at most one MAX_STREAMS per direction", () => {
  const h = hostile();
  const before = h.server.resourceUsage().queuedControlFrames;
  for (let i = 0; i < 20; i++) {
    h.send(Array.from({ length: 50 }, (_, k) => ({ type: "streams_blocked", bidi: k % 2 === 0, limit: 100 + i }) as Frame));
    assert.ok(h.server.resourceUsage().queuedControlFrames <= before + 2);
  }
  assert.equal(h.server.isClosing, false, h.server.closeInfo?.reason);
  assert.equal(h.server.stats().blockedFramesReceived.streams, 1000);
});

test("a NEW_TOKEN flood leaves the client's usage unchanged; NEW_TOKEN from a client is PROTOCOL_VIOLATION (RFC 9000 section 19.7)", () => {
  const serverKeylog: string[] = [];
  const p = makePair({ serverConfig: { keylog: (l) => serverKeylog.push(l) } });
  const server = establish(p);
  drain(p.conn);
  const before = p.conn.resourceUsage();
  let pn = server.recovery.largestSent(2) + 1000;
  for (let i = 0; i < 50; i++) {
    const frames = Array.from({ length: 20 }, () => ({ type: "new_token", token: new Uint8Array(40).fill(i) }) as Frame);
    p.link.inject(1, forgePacket(server, serverKeylog, "SERVER", frames, { pn: pn++ }));
  }
  p.link.run(() => false, 100);
  assert.equal(p.conn.isClosing, false, p.conn.closeInfo?.reason);
  assert.deepEqual(p.conn.resourceUsage(), { ...before, ackRangesTracked: p.conn.resourceUsage().ackRangesTracked });
  p.link.inject(0, forgeClientPacket(p, [{ type: "new_token", token: new Uint8Array(8) }]));
  p.link.run(() => server.isClosing, 100);
  assert.equal(server.closeInfo?.errorCode, TransportErrorCode.PROTOCOL_VIOLATION);
});
