import { test } from "node:test";
import assert from "node:assert/strict";
import { establish, makePair } from "./harness.js";

test("2,000 streams opened in sequence against a server that allows 100 at a time, each with a small exchange", () => {
  const TOTAL = 2_000;
  const p = makePair({ serverConfig: { transport: { initialMaxStreamsBidi: 100 } } });
  const server = establish(p);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let opened = 0;
  let refused = 0;
  let available = 0;
  let completed = 0;
  let maxServerStreams = 0;
  let maxClientOpen = 0;
  const open = new Set<number>();
  const responses = new Map<number, string>();
  p.link.run(() => {
    // Server: answer each request with "re:" + request once its FIN arrived.
    for (let e = server.poll(); e; e = server.poll()) {
      if (e.type !== "readable") continue;
      let text = "";
      let fin = false;
      for (let r = server.streamRead(e.streamId); r; r = server.streamRead(e.streamId)) {
        text += dec.decode(r.data);
        fin ||= r.fin;
      }
      if (fin) server.streamWrite(e.streamId, enc.encode(`re:${text}`), true);
    }
    maxServerStreams = Math.max(maxServerStreams, server.streams.streamCount);
    // Client: read answers, then open as many streams as allowed.
    for (let e = p.conn.poll(); e; e = p.conn.poll()) {
      if (e.type === "streams_available") available++;
      if (e.type !== "readable") continue;
      for (let r = p.conn.streamRead(e.streamId); r; r = p.conn.streamRead(e.streamId)) {
        responses.set(e.streamId, (responses.get(e.streamId) ?? "") + dec.decode(r.data));
        if (r.fin) {
          assert.equal(responses.get(e.streamId), `re:request ${e.streamId}`);
          open.delete(e.streamId);
          completed++;
        }
      }
    }
    while (opened < TOTAL) {
      const s = p.conn.openStream(true);
      if (!s) {
        refused++;
        break;
      }
      opened++;
      open.add(s.id);
      p.conn.streamWrite(s.id, enc.encode(`request ${s.id}`), true);
    }
    maxClientOpen = Math.max(maxClientOpen, open.size);
    return completed === TOTAL;
  }, 120_000);
  assert.equal(completed, TOTAL, `only ${completed} exchanges completed (${opened} opened)`);
  assert.ok(maxServerStreams <= 100, `the server held ${maxServerStreams} streams`);
  assert.equal(maxClientOpen, 100, "the client never used the whole allowance");
  assert.ok(refused > 0 && available > 0, "the client was never held back by MAX_STREAMS");
  assert.ok(p.conn.stats().blockedFramesSent.streams >= 1, "no STREAMS_BLOCKED sent");
  // Stream IDs went up in order: the last is 4 * (TOTAL - 1) (RFC 9000 section 2.1).
  assert.ok(responses.has(4 * (TOTAL - 1)));
  p.link.run(() => false, 1_000);
  assert.equal(p.conn.streams.streamCount, 0);
  assert.equal(server.streams.streamCount, 0);
});
