/**
 * Encoder and decoder against each other under random settings: random
 * header lists, encoder-stream data delayed and split at random, field
 * sections overtaking it (blocked streams, released by late encoder-stream
 * data), streams cancelled, decoder feedback delayed. Every section that is
 * not cancelled must decode to exactly what was encoded, the decoder must
 * never see more blocked streams than it allows (the encoder's job), and at
 * the end the encoder must hold no references.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { QpackDecoder, type UnblockedSection } from "../../src/h3/qpack/decoder.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import type { Header } from "../../src/h3/qpack/primitives.js";
import { STATIC_TABLE } from "../../src/h3/qpack/static-table.js";
import { RUNS } from "./helpers.js";

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

const name = fc.oneof(
  fc.constantFrom(...STATIC_TABLE.map((e) => e[0])),
  fc.constantFrom(":authority", "user-agent", "content-type", "accept", "x-custom", "x-trace", "cookie", "authorization"),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
);
const value = fc.oneof(
  fc.constantFrom(...STATIC_TABLE.map((e) => e[1])),
  fc.constantFrom("", "www.example.com", "curl/8.0", "text/plain", "a", "bb", "some-longer-repeated-value-for-the-table"),
  fc.uint8Array({ maxLength: 40 }).map(latin1),
  fc.uint8Array({ minLength: 100, maxLength: 300 }).map(latin1),
);
const header: fc.Arbitrary<Header> = fc.tuple(name, value);
const headerList = fc.array(header, { maxLength: 12 });

const settings = fc.record({
  decoderCapacity: fc.constantFrom(0, 32, 100, 220, 1000, 4096),
  blockedStreams: fc.constantFrom(0, 1, 2, 100),
  encoderCapacity: fc.constantFrom(0, 64, 256, 4096),
  huffman: fc.boolean(),
  indexAll: fc.boolean(),
});

/** A step of the simulation: which queue moves, interpreted against the current state. */
const step = fc.record({ kind: fc.integer({ min: 0, max: 9 }), pick: fc.nat(), split: fc.nat() });

function splitRandom(b: Uint8Array, seed: number): Uint8Array[] {
  if (b.length < 2 || seed % 3 === 0) return [b];
  const cut = 1 + (seed % (b.length - 1));
  return [b.subarray(0, cut), b.subarray(cut)];
}

test("QPACK encoder and decoder round-trip random header lists with blocking, reordering and cancellation", () => {
  // Coverage counters, so that the property cannot pass by never exercising the interesting paths.
  const seen = { blocked: 0, unblocked: 0, cancelledBlocked: 0, dynamicSections: 0, evictions: 0 };
  fc.assert(
    fc.property(settings, fc.array(headerList, { minLength: 1, maxLength: 30 }), fc.array(step, { maxLength: 120 }), (s, messages, steps) => {
      const enc = new QpackEncoder({ maxTableCapacity: s.encoderCapacity, huffman: s.huffman, ...(s.indexAll ? { shouldIndex: () => true } : {}) });
      const dec = new QpackDecoder({ maxTableCapacity: s.decoderCapacity, maxBlockedStreams: s.blockedStreams, maxFieldSectionSize: 1 << 20 });
      enc.applyPeerSettings({ maxTableCapacity: s.decoderCapacity, blockedStreams: s.blockedStreams });

      const encQueue: Uint8Array[] = [];
      const decQueue: Uint8Array[] = [];
      const inFlight: Array<{ streamId: number; section: Uint8Array }> = [];
      const expected = new Map<number, Header[]>();
      const decoded = new Map<number, Header[]>();
      const blocked = new Set<number>();
      const cancelled = new Set<number>();
      let next = 0;
      let nextStream = 0;

      const take = (streamId: number, headers: Header[]) => {
        assert.ok(!decoded.has(streamId), `stream ${streamId} decoded twice`);
        decoded.set(streamId, headers);
      };
      const onUnblocked = (list: UnblockedSection[]) => {
        for (const u of list) {
          assert.ok(u.headers, `unblocked stream ${u.streamId} failed: ${u.error?.message}`);
          assert.ok(blocked.delete(u.streamId));
          seen.unblocked++;
          take(u.streamId, u.headers);
        }
      };
      const pumpDecoderStream = (seed: number) => {
        const d = dec.takeDecoderStreamData();
        if (d.length) decQueue.push(...splitRandom(d, seed));
      };
      const send = (seed: number) => {
        if (next >= messages.length) return;
        const streamId = 4 * nextStream++;
        const headers = messages[next++]!;
        const section = enc.encodeFieldSection(streamId, headers);
        expected.set(streamId, headers);
        const e = enc.takeEncoderStreamData();
        if (e.length) encQueue.push(...splitRandom(e, seed));
        inFlight.push({ streamId, section });
      };
      const deliverSection = (pick: number, seed: number) => {
        if (inFlight.length === 0) return;
        const [{ streamId, section }] = inFlight.splice(pick % inFlight.length, 1);
        const r = dec.decodeFieldSection(streamId, section);
        if (section[0] !== 0) seen.dynamicSections++;
        if (r.blocked) {
          blocked.add(streamId);
          seen.blocked++;
        }
        else take(streamId, r.headers);
        pumpDecoderStream(seed);
      };
      const deliverEncoderStream = (seed: number) => {
        const chunk = encQueue.shift();
        if (!chunk) return;
        onUnblocked(dec.onEncoderStreamData(chunk));
        pumpDecoderStream(seed);
      };
      const deliverDecoderStream = () => {
        const chunk = decQueue.shift();
        if (chunk) enc.onDecoderStreamData(chunk);
      };
      const cancel = (pick: number, seed: number) => {
        // Cancel a blocked stream, or one whose section has not arrived yet.
        const candidates = [...blocked, ...inFlight.map((f) => f.streamId)];
        if (candidates.length === 0) return;
        const streamId = candidates[pick % candidates.length]!;
        dec.cancelStream(streamId);
        if (blocked.delete(streamId)) seen.cancelledBlocked++;
        const i = inFlight.findIndex((f) => f.streamId === streamId);
        if (i >= 0) inFlight.splice(i, 1);
        cancelled.add(streamId);
        pumpDecoderStream(seed);
      };

      for (const st of steps) {
        if (st.kind <= 2) send(st.split);
        else if (st.kind <= 4) deliverSection(st.pick, st.split);
        else if (st.kind <= 6) deliverEncoderStream(st.split);
        else if (st.kind <= 8) deliverDecoderStream();
        else cancel(st.pick, st.split);
        assert.ok(dec.blockedStreams <= s.blockedStreams);
      }
      // Drain everything: remaining messages, sections, encoder and decoder streams.
      while (next < messages.length) send(0);
      while (inFlight.length) deliverSection(0, 0);
      while (encQueue.length) deliverEncoderStream(0);
      pumpDecoderStream(0);
      while (decQueue.length) deliverDecoderStream();

      assert.equal(blocked.size, 0);
      for (const [streamId, headers] of expected) {
        if (cancelled.has(streamId)) continue;
        assert.deepEqual(decoded.get(streamId), headers, `stream ${streamId}`);
      }
      // Every reference was acknowledged or cancelled.
      assert.equal(enc.blockingStreams, 0);
      for (let a = enc.table.dropped; a < enc.table.insertCount; a++) assert.equal(enc.table.entry(a).refs, 0);
      assert.equal(enc.knownReceivedCount, enc.table.insertCount);
      // Both tables agree.
      assert.equal(dec.table.insertCount, enc.table.insertCount);
      assert.equal(dec.table.size, enc.table.size);
      if (dec.table.dropped > 0) seen.evictions++;
    }),
    { numRuns: RUNS },
  );
  if (RUNS >= 200) for (const [k, n] of Object.entries(seen)) assert.ok(n > 0, `no case exercised ${k}`);
});

test("a static-only encoder (peer capacity 0) never writes to the encoder stream and never blocks", () => {
  fc.assert(
    fc.property(fc.array(headerList, { maxLength: 10 }), fc.boolean(), (messages, huffman) => {
      const enc = new QpackEncoder({ huffman });
      enc.applyPeerSettings({});
      const dec = new QpackDecoder();
      messages.forEach((headers, i) => {
        const section = enc.encodeFieldSection(4 * i, headers);
        // Required Insert Count 0, Base 0.
        assert.equal(section[0], 0);
        assert.equal(section[1], 0);
        assert.deepEqual(dec.decodeFieldSection(4 * i, section), { blocked: false, headers });
      });
      assert.equal(enc.takeEncoderStreamData().length, 0);
      assert.equal(dec.takeDecoderStreamData().length, 0);
    }),
    { numRuns: RUNS },
  );
});

test("repeated requests compress: the second copy of a request uses the dynamic table once acknowledged", () => {
  const enc = new QpackEncoder();
  const dec = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 16 });
  enc.applyPeerSettings({ maxTableCapacity: 4096, blockedStreams: 16 });
  const req: Header[] = [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "example.org"],
    [":path", "/"],
    ["user-agent", "tsquic-test-agent/1.0 (a fairly long user agent string)"],
    ["accept", "text/html,application/xhtml+xml"],
  ];
  const first = enc.encodeFieldSection(0, req);
  dec.onEncoderStreamData(enc.takeEncoderStreamData());
  assert.deepEqual(dec.decodeFieldSection(0, first), { blocked: false, headers: req });
  enc.onDecoderStreamData(dec.takeDecoderStreamData());
  const second = enc.encodeFieldSection(4, req);
  assert.equal(enc.takeEncoderStreamData().length, 0);
  assert.ok(second.length < 12, `second request took ${second.length} bytes`);
  assert.deepEqual(dec.decodeFieldSection(4, second), { blocked: false, headers: req });
  // Sensitive fields never enter the table and carry the N bit.
  const auth = enc.encodeFieldSection(8, [["authorization", "Bearer abc"]]);
  assert.equal(auth[2]! & 0xf0, 0x70, "literal with static name reference, N=1");
  assert.deepEqual(dec.decodeFieldSection(8, auth), { blocked: false, headers: [["authorization", "Bearer abc"]] });
});

test("encoder policy: a draining entry is duplicated rather than referenced, and the oldest evictable entry makes room", () => {
  const enc = new QpackEncoder({ huffman: false });
  const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
  enc.applyPeerSettings({ maxTableCapacity: 220, blockedStreams: 1 });
  const sync = () => {
    dec.onEncoderStreamData(enc.takeEncoderStreamData());
    enc.onDecoderStreamData(dec.takeDecoderStreamData());
  };
  assert.ok(enc.insert(":authority", "a.example")); // 51 bytes
  assert.ok(enc.insert("user-agent", "x".repeat(20))); // 62 bytes
  assert.ok(enc.insert("accept", "y".repeat(20))); // 58 bytes: entry 0 is now in the oldest quarter
  sync();
  assert.equal(enc.knownReceivedCount, 3);
  const section = enc.encodeFieldSection(0, [[":authority", "a.example"]]);
  // Duplicate (relative index 2), which evicts entry 0, then a post-base reference to entry 3.
  const instructions = enc.takeEncoderStreamData();
  assert.equal(Buffer.from(instructions).toString("hex"), "02");
  assert.equal(Buffer.from(section).toString("hex"), "058010");
  assert.equal(enc.table.dropped, 1);
  assert.deepEqual(dec.decodeFieldSection(0, section), { blocked: true });
  assert.deepEqual(dec.onEncoderStreamData(instructions), [{ streamId: 0, headers: [[":authority", "a.example"]] }]);
  enc.onDecoderStreamData(dec.takeDecoderStreamData());
  assert.equal(enc.blockingStreams, 0);
  // With the blocked-streams budget in use, new entries are inserted but sent as literals.
  const busy = new QpackEncoder({ huffman: false });
  busy.applyPeerSettings({ maxTableCapacity: 220, blockedStreams: 0 });
  const lit = busy.encodeFieldSection(0, [[":authority", "b.example"]]);
  assert.equal(Buffer.from(lit).toString("hex"), "0000" + "50" + "09" + Buffer.from("b.example").toString("hex"));
  assert.equal(busy.table.insertCount, 1);
});

test("a field that is not a byte string is a TypeError that leaves encoder and decoder in step", () => {
  const enc = new QpackEncoder({ shouldIndex: () => true });
  const dec = new QpackDecoder({ maxTableCapacity: 220, maxBlockedStreams: 1 });
  enc.applyPeerSettings({ maxTableCapacity: 220, blockedStreams: 1 });
  assert.throws(() => enc.encodeFieldSection(0, [["x-a", "1"], ["x-b", "caf\u00e9 \u2615"]]), TypeError);
  assert.throws(() => enc.insert("x-c", "\u{1f600}"), TypeError);
  assert.equal(enc.table.entry(0).refs, 0, "the abandoned section's reference was released");
  dec.onEncoderStreamData(enc.takeEncoderStreamData());
  const ok: Header[] = [
    ["x-a", "1"],
    ["x-b", "caf\u00e9"],
  ];
  const section = enc.encodeFieldSection(4, ok);
  dec.onEncoderStreamData(enc.takeEncoderStreamData());
  assert.deepEqual(dec.decodeFieldSection(4, section), { blocked: false, headers: ok });
  enc.onDecoderStreamData(dec.takeDecoderStreamData());
  assert.equal(enc.blockingStreams, 0);
  assert.equal(dec.table.insertCount, enc.table.insertCount);
});
