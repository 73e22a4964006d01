/**
 * Property fuzzing of the HTTP/3 connection: a raw client writes random and
 * mutated frames on a request stream, its control stream and its QPACK
 * encoder stream. Whatever arrives, the server's H3Connection must not
 * throw, must keep its memory bounded, and when it closes the connection it
 * does so with an HTTP/3 or QPACK code (RFC 9114 section 8.1, RFC 9204
 * section 6). Each case builds a connection, so the count is kept modest
 * (FUZZ_RUNS / 10: 100 by default).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeFrame, encodeFrameHeader, encodeHeadersFrame, encodeReservedFrame, encodeSettingsFrame, encodeStreamHeader, StreamType } from "../../src/h3/frames.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import type { Header } from "../../src/h3/qpack/primitives.js";
import { h3Pair } from "./h3-pair.js";
import { cat, RUNS } from "./helpers.js";

const CASES = Math.max(20, Math.floor(RUNS / 10));

const GET: Header[] = [
  [":method", "POST"],
  [":scheme", "https"],
  [":authority", "localhost"],
  [":path", "/"],
];

/** Pieces a request stream is made of: valid frames and garbage. */
const piece = fc.oneof(
  fc.constant(encodeHeadersFrame(new QpackEncoder().encodeFieldSection(0, GET))),
  fc.uint8Array({ maxLength: 40 }).map((d) => encodeFrame({ type: "data", data: d })),
  fc.nat({ max: 20 }).map((n) => encodeReservedFrame(n, new Uint8Array(n))),
  fc.tuple(fc.integer({ min: 0, max: 0x3f }), fc.uint8Array({ maxLength: 12 })).map(([t, d]) => cat(encodeFrameHeader(t, d.length), d)),
  fc.uint8Array({ minLength: 1, maxLength: 24 }),
);

const H3_CODES = new Set([...Array.from({ length: 0x11 }, (_, i) => 0x100 + i), 0x200, 0x201, 0x202]);

test("random request, control and encoder stream contents never crash the server and close only with H3 codes", () => {
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 8 }),
      fc.boolean(),
      fc.array(piece, { maxLength: 4 }),
      fc.uint8Array({ maxLength: 32 }),
      (requestPieces, fin, controlPieces, encoderBytes) => {
        const p = h3Pair({ rawClient: true });
        const conn = p.rawClientConn;
        const ctl = conn.openStream(false)!;
        conn.streamWrite(ctl.id, cat(encodeStreamHeader(StreamType.CONTROL), encodeSettingsFrame({}), ...controlPieces));
        const enc = conn.openStream(false)!;
        conn.streamWrite(enc.id, cat(encodeStreamHeader(StreamType.QPACK_ENCODER), encoderBytes));
        const req = conn.openStream(true)!;
        conn.streamWrite(req.id, cat(...requestPieces), fin);
        // Any exception from the server's poll would escape from run().
        p.settle(300);
        const closed = p.rawEvents.find((e) => e.type === "connection_closed");
        if (closed && closed.type === "connection_closed") {
          assert.equal(closed.info.application, true);
          assert.ok(H3_CODES.has(closed.info.errorCode), `closed with 0x${closed.info.errorCode.toString(16)}`);
        }
        assert.ok(p.server.qpackStats().blockedStreams <= 1);
      },
    ),
    { numRuns: CASES },
  );
});
