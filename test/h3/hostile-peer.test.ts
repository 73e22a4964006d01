/**
 * A hostile HTTP/3 client cannot make a server hold more than its limits:
 * header frames are bounded by SETTINGS_MAX_FIELD_SECTION_SIZE, the QPACK
 * dynamic table by SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9114 section
 * 10.5, RFC 9204 section 7.3).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { H3ErrorCode } from "../../src/h3/errors.js";
import { encodeFrameHeader, StreamType } from "../../src/h3/frames.js";
import { encodeEncoderInstruction } from "../../src/h3/qpack/instructions.js";
import { h3Pair } from "./h3-pair.js";
import { cat } from "./helpers.js";
import { closeCodeSeenBy, openControl, openUni, rawRequest } from "./raw-peer.js";

test("a HEADERS frame declaring a huge length closes the connection with H3_EXCESSIVE_LOAD", () => {
  const p = h3Pair({ rawClient: true, server: { maxFieldSectionSize: 4096 } });
  const conn = p.rawClientConn;
  openControl(conn);
  rawRequest(conn, cat(encodeFrameHeader(0x01, 2 ** 40), new Uint8Array(1000)), false);
  assert.equal(closeCodeSeenBy(p), H3ErrorCode.H3_EXCESSIVE_LOAD);
});

test("header blocks that never end hold at most one frame limit per stream", () => {
  const p = h3Pair({ rawClient: true, server: { maxFieldSectionSize: 4096 } });
  const conn = p.rawClientConn;
  openControl(conn);
  // Ten requests each announcing a HEADERS frame just under the limit and sending only part of it, slowly, forever.
  const frameLimit = Math.ceil(4096 * 1.25) + 1024;
  const ids: number[] = [];
  for (let i = 0; i < 10; i++) ids.push(rawRequest(conn, encodeFrameHeader(0x01, frameLimit), false));
  for (let round = 0; round < 20; round++) {
    for (const id of ids) conn.streamWrite(id, new Uint8Array(100));
    p.settle(50);
    assert.ok(p.server.bufferedFrameBytes() <= ids.length * (frameLimit + 16), `${p.server.bufferedFrameBytes()} bytes held`);
  }
  assert.ok(p.server.bufferedFrameBytes() > 0);
  assert.ok(!p.rawEvents.some((e) => e.type === "connection_closed"));
  // One byte past the limit on another stream is excessive.
  rawRequest(conn, encodeFrameHeader(0x01, frameLimit + 1), false);
  assert.equal(closeCodeSeenBy(p), H3ErrorCode.H3_EXCESSIVE_LOAD);
});

test("an endless QPACK encoder stream keeps the dynamic table within its capacity; an entry larger than it is QPACK_ENCODER_STREAM_ERROR", () => {
  const capacity = 1024;
  const p = h3Pair({ rawClient: true, server: { qpackMaxTableCapacity: capacity } });
  const conn = p.rawClientConn;
  openControl(conn);
  const enc = openUni(conn, StreamType.QPACK_ENCODER, encodeEncoderInstruction({ type: "setCapacity", capacity }));
  let inserted = 0;
  for (let round = 0; round < 20; round++) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < 100; i++, inserted++) batch.push(encodeEncoderInstruction({ type: "insertWithLiteralName", name: `x-${inserted}`, value: "v".repeat(60) }, false));
    conn.streamWrite(enc, cat(...batch));
    p.settle(50);
    const q = p.server.qpackStats();
    assert.ok(q.decoderTableBytes <= capacity, `table holds ${q.decoderTableBytes} bytes`);
  }
  assert.equal(p.server.qpackStats().decoderInsertCount, 2000);
  assert.ok(!p.rawEvents.some((e) => e.type === "connection_closed"));
  conn.streamWrite(enc, encodeEncoderInstruction({ type: "insertWithLiteralName", name: "x-big", value: "v".repeat(capacity) }, false));
  assert.equal(closeCodeSeenBy(p), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
});

test("an encoder-stream string announcing a huge length is QPACK_ENCODER_STREAM_ERROR without waiting for its bytes", () => {
  const p = h3Pair({ rawClient: true, server: { qpackMaxTableCapacity: 1024 } });
  const conn = p.rawClientConn;
  openControl(conn);
  // Insert With Literal Name, H=0, name length 2^40 as a 5-bit prefix integer (RFC 9204 section 4.3.3).
  const hugeName = [0x5f, 0xe1, 0xff, 0xff, 0xff, 0xff, 0x1f];
  openUni(conn, StreamType.QPACK_ENCODER, cat(encodeEncoderInstruction({ type: "setCapacity", capacity: 1024 }), new Uint8Array(hugeName), new Uint8Array(10)));
  assert.equal(closeCodeSeenBy(p), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
  assert.ok(p.server.bufferedFrameBytes() < 1024);
});
