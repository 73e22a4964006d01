import { test } from "node:test";
import assert from "node:assert/strict";
import { Prng } from "../../src/testing/prng.js";
import { establish, makePair, transfer, type Pair } from "./harness.js";

/** A mutated copy of `d`: bit flips, truncation, byte overwrite, a header rewrite, or two datagrams glued together. */
function mutate(rng: Prng, d: Uint8Array, other: Uint8Array | undefined): Uint8Array {
  const out = new Uint8Array(d);
  switch (rng.int(6)) {
    case 0: {
      const flips = 1 + rng.int(8);
      for (let i = 0; i < flips; i++) {
        const bit = rng.int(out.length * 8);
        out[bit >>> 3]! ^= 1 << (bit & 7);
      }
      return out;
    }
    case 1:
      return out.subarray(0, rng.int(out.length));
    case 2: {
      const at = rng.int(out.length);
      out.set(rng.bytes(Math.min(out.length - at, 1 + rng.int(16))), at);
      return out;
    }
    case 3:
      // The first bytes: header form, fixed bit, type, reserved bits, version, CID lengths.
      out[rng.int(Math.min(out.length, 8))] = rng.int(256);
      return out;
    case 4: {
      if (!other) return out;
      const glued = new Uint8Array(out.length + other.length);
      glued.set(out);
      glued.set(other, out.length);
      return glued.subarray(0, Math.min(glued.length, 1500));
    }
    default:
      return out; // an exact duplicate
  }
}

/**
 * Feeds the receiving side (0: the client's datagrams reach the server,
 * 1: the server's reach the client) `perDatagram` mutated copies of every
 * real datagram, at random moments within 50 ms.
 */
function fuzzDirection(p: Pair, from: 0 | 1, seed: number, perDatagram: number): { injected: () => number } {
  const rng = new Prng(seed);
  let injected = 0;
  let previous: Uint8Array | undefined;
  const cond = { delay: 10 };
  const tamper = (d: Uint8Array): Uint8Array => {
    const copy = new Uint8Array(d); // the receiver decrypts in place: keep pristine bytes
    for (let i = 0; i < perDatagram; i++) {
      p.link.inject(from, mutate(rng, copy, previous), rng.next() * 50);
      injected++;
    }
    previous = copy;
    return d;
  };
  p.link.setConditions(from, { ...cond, tamper });
  return { injected: () => injected };
}

test("a server fed mutated copies of every client datagram never throws and keeps serving the real client, from the first Initial on", () => {
  const p = makePair();
  const fuzz = fuzzDirection(p, 0, 1234, 4);
  const server = establish(p, 10_000);
  const r = transfer(p, server, { streams: 3, bytesPerStream: 200 * 1024, echo: true, maxTime: 120_000 });
  assert.equal(r.error, undefined);
  assert.ok(r.completed && r.intact, "the real client's exchange failed");
  assert.ok(fuzz.injected() > 1_000, `only ${fuzz.injected()} mutated datagrams`);
  assert.ok(server.stats().packetsDropped > 1_000);
  // Garbage Initials created no connection state.
  assert.equal(p.server.connectionCount, 1);
  assert.equal(p.server.stats.serverConnections, 1);
});

test("a client fed mutated copies of every server datagram never throws and completes its exchange", () => {
  const p = makePair();
  const fuzz = fuzzDirection(p, 1, 99, 4);
  const server = establish(p, 10_000);
  const r = transfer(p, server, { streams: 3, bytesPerStream: 200 * 1024, echo: true, maxTime: 120_000 });
  assert.equal(r.error, undefined);
  assert.ok(r.completed && r.intact);
  assert.ok(fuzz.injected() > 1_000);
  assert.ok(p.conn.stats().packetsDropped > 1_000);
});

test("an endpoint fed random datagrams of every size and shape never throws and answers at most a few", () => {
  const p = makePair();
  establish(p);
  const rng = new Prng(77);
  for (let i = 0; i < 5_000; i++) {
    const d = rng.bytes(rng.int(1500));
    // Half look like long headers of v1 with plausible CID lengths.
    if (d.length > 8 && rng.chance(0.5)) {
      d[0] = 0xc0 | (d[0]! & 0x3f);
      d[1] = 0;
      d[2] = 0;
      d[3] = 0;
      d[4] = 1;
      d[5] = rng.int(21);
    }
    p.link.inject(0, d, rng.next() * 100);
  }
  p.link.run(() => false, 1_000);
  assert.ok(p.conn.isEstablished);
  assert.equal(p.server.connectionCount, 1);
  const r = transfer(p, p.serverConn()!, { streams: 1, bytesPerStream: 64 * 1024 });
  assert.ok(r.completed && r.intact);
});
