/**
 * Connection-level fuzz past the packet protection. test/quic/connection-fuzz.test.ts
 * feeds the server mutated copies of real client datagrams while the real client
 * is served; almost all of those fail authentication, so the frame decoder and
 * the connection's frame handling behind it see little of them. Here every case
 * is a packet sealed with the client's real 1-RTT (or Handshake) keys carrying
 * random or mutated frames: the server must not throw and must either carry on
 * or close with a QUIC transport error code that is not INTERNAL_ERROR.
 * Case count: FUZZ_RUNS / 500 (at least 20; 200 under `npm run fuzz`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeFrames, type Frame } from "../../src/quic/frames/index.js";
import { TransportErrorCode } from "../../src/quic/errors.js";
import { drain, establish, forgeClientPacket, makePair } from "../quic/harness.js";

const CASES = Math.max(20, Math.floor(Number(process.env.FUZZ_RUNS ?? 0) / 500));

const FRAME_TYPES = [...Array.from({ length: 0x1f }, (_, i) => i), 0x30, 0x31, 0xaf, 0xb0, 0x40, 0x3f];
const SEEDS: Frame[][] = [
  [{ type: "ping" }],
  [{ type: "stream", streamId: 0, offset: 0, data: new Uint8Array(20).fill(7), fin: false }],
  [{ type: "stream", streamId: 4, offset: 100, data: new Uint8Array(5), fin: true }],
  [{ type: "max_data", maximum: 1 << 24 } as Frame],
  [{ type: "max_streams", bidirectional: true, maximum: 200 } as unknown as Frame],
  [{ type: "crypto", offset: 0, data: new Uint8Array(8) } as Frame],
];
const seedBytes = SEEDS.flatMap((f) => {
  try {
    return [encodeFrames(f)];
  } catch {
    return [];
  }
});

const payload = fc.oneof(
  fc.tuple(fc.constantFrom(...FRAME_TYPES), fc.uint8Array({ maxLength: 40 })).map(([t, rest]) => Uint8Array.from([t, ...rest])),
  fc.uint8Array({ minLength: 1, maxLength: 60 }),
  fc
    .tuple(fc.constantFrom(...seedBytes), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }))
    .map(([s, edits]) => {
      const b = new Uint8Array(s);
      for (const [at, v] of edits) b[at % b.length] = v;
      return b;
    }),
);

test(`fuzz: authenticated packets with random or mutated frames: the server carries on or closes with a transport error (${CASES} cases)`, () => {
  let closed = 0;
  fc.assert(
    fc.property(payload, fc.constantFrom("oneRtt" as const, "handshake" as const), (bytes, level) => {
      const p = makePair();
      const server = establish(p);
      drain(p.conn);
      drain(server);
      let forged: Uint8Array;
      try {
        forged = forgeClientPacket(p, bytes, { level });
      } catch {
        return; // handshake keys already discarded on the client: nothing to forge
      }
      p.link.inject(0, forged);
      p.link.run(() => p.conn.isClosing, 300);
      const info = server.closeInfo;
      if (info) {
        closed++;
        assert.equal(info.application, false, `application close: ${info.reason}`);
        assert.notEqual(info.errorCode, TransportErrorCode.INTERNAL_ERROR, `INTERNAL_ERROR: ${info.reason}`);
        assert.ok(info.errorCode > 0 && info.errorCode < 0x200, `odd code ${info.errorCode}`);
      }
      // No transfer afterwards: the server acknowledges the forged packet number, which
      // the real client never sent, so the client rightly closes (PROTOCOL_VIOLATION).
      // Serving a well-behaved client alongside hostile datagrams is test/quic/connection-fuzz.test.ts.
    }),
    { numRuns: CASES },
  );
  assert.ok(closed > 0, "no case closed the connection: the forged packets may not be reaching the frame decoder");
});
