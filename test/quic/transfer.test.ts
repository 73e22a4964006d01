import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { Connection } from "../../src/quic/connection.js";
import { makePair, type Pair } from "./harness.js";
import type { LinkConditions } from "../../src/testing/link.js";

/** Server side: echoes every stream back, reading all and writing as it goes. */
function pumpEcho(conn: Connection): void {
  for (let e = conn.poll(); e; e = conn.poll()) {
    if (e.type === "readable" || e.type === "opened") {
      const s = conn.getStream(e.streamId);
      if (!s) continue;
      for (let r = conn.streamRead(e.streamId); r; r = conn.streamRead(e.streamId)) {
        conn.streamWrite(e.streamId, r.data.slice(), r.fin);
      }
    }
  }
}

function transfer(p: Pair, streams: number, bytesPerStream: number, maxTime: number): { ok: boolean; digestsMatch: boolean } {
  const sent = new Map<number, Buffer>();
  const received = new Map<number, Buffer[]>();
  const done = new Set<number>();
  let started = false;
  const pending = new Map<number, { data: Buffer; off: number }>();
  const ok = p.link.run(() => {
    const sc = p.serverConn();
    if (sc) pumpEcho(sc);
    const c = p.conn;
    if (c.isClosing) return true;
    for (let e = c.poll(); e; e = c.poll()) {
      if (e.type === "readable") {
        for (let r = c.streamRead(e.streamId); r; r = c.streamRead(e.streamId)) {
          if (!received.has(e.streamId)) received.set(e.streamId, []);
          received.get(e.streamId)!.push(Buffer.from(r.data));
          if (r.fin) done.add(e.streamId);
        }
      }
    }
    if (c.isEstablished && !started) {
      started = true;
      for (let i = 0; i < streams; i++) {
        const s = c.openStream(true)!;
        const data = randomBytes(bytesPerStream);
        sent.set(s.id, data);
        pending.set(s.id, { data, off: 0 });
      }
    }
    // Write in 64 KiB pieces while the stream accepts more.
    for (const [id, w] of pending) {
      while (w.off < w.data.length) {
        const end = Math.min(w.data.length, w.off + 65536);
        const more = c.streamWrite(id, w.data.subarray(w.off, end), end === w.data.length);
        w.off = end;
        if (!more) break;
      }
      if (w.off >= w.data.length) pending.delete(id);
    }
    return started && done.size === streams;
  }, maxTime);
  let digestsMatch = done.size === streams;
  for (const [id, data] of sent) {
    const got = Buffer.concat(received.get(id) ?? []);
    const a = createHash("sha256").update(data).digest("hex");
    const b = createHash("sha256").update(got).digest("hex");
    if (a !== b) digestsMatch = false;
  }
  return { ok, digestsMatch };
}

for (const [name, loss] of [
  ["no loss", 0],
  ["5% loss", 0.05],
] as const) {
  test(`echo of 2 MB over 4 streams with ${name}`, () => {
    const cond: LinkConditions = { delay: 10, loss };
    const p = makePair({ aToB: cond, bToA: cond, seed: 3 });
    const r = transfer(p, 4, 512 * 1024, 120_000);
    assert.ok(!p.conn.isClosing, `connection closed: ${p.conn.closeInfo?.error?.message}`);
    assert.ok(r.ok, "transfer did not complete in time");
    assert.ok(r.digestsMatch, "echoed bytes differ");
  });
}
