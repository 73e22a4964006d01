import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { establish, makePair } from "./harness.js";

const STREAM_WINDOW = 16 * 1024;
const CONN_WINDOW = 24 * 1024;

/** A pair whose server grants small, fixed windows (auto-tuning capped at the initial values). */
function smallWindows() {
  return makePair({
    serverConfig: {
      transport: { initialMaxStreamDataBidiRemote: STREAM_WINDOW, initialMaxData: CONN_WINDOW },
      maxStreamWindow: STREAM_WINDOW,
      maxConnectionWindow: CONN_WINDOW,
    },
  });
}

test("a sender blocks on MAX_STREAM_DATA and MAX_DATA, says so with STREAM_DATA_BLOCKED and DATA_BLOCKED, and resumes as the reader reads", () => {
  const p = smallWindows();
  const server = establish(p);
  const size = 256 * 1024;
  const payloads = [randomBytes(size), randomBytes(size)];
  // Nobody reads. The first stream stops at its stream window, the second at what is left of the connection window.
  const ids: number[] = [];
  for (const data of payloads) {
    const s = p.conn.openStream(true)!;
    p.conn.streamWrite(s.id, data, true);
    ids.push(s.id);
    p.link.run(() => false, 1_000);
  }
  const buffered = server.streams.recvBufferedBytes;
  assert.equal(buffered, CONN_WINDOW, `server holds ${buffered} unread bytes`);
  for (const id of ids) assert.ok((server.getStream(id)?.recv?.bufferedBytes ?? 0) <= STREAM_WINDOW);
  const sentWhileBlocked = p.conn.stats().bytesSent;
  p.link.run(() => false, 2_000);
  assert.ok(p.conn.stats().bytesSent - sentWhileBlocked < 2_000, "the blocked sender kept sending data");
  assert.ok(p.conn.stats().blockedFramesSent.streamData >= 1, "no STREAM_DATA_BLOCKED sent");
  assert.ok(p.conn.stats().blockedFramesSent.data >= 1, "no DATA_BLOCKED sent");
  assert.ok(server.stats().blockedFramesReceived.streamData >= 1, "no STREAM_DATA_BLOCKED received");
  assert.ok(server.stats().blockedFramesReceived.data >= 1, "no DATA_BLOCKED received");

  // The reader takes 4 KiB per stream every 20 ms; the sender resumes and everything arrives intact.
  const hashes = ids.map(() => createHash("sha256"));
  const done = ids.map(() => false);
  const readSome = (): void => {
    ids.forEach((id, i) => {
      const r = server.streamRead(id, 4096);
      if (r) {
        hashes[i]!.update(r.data);
        if (r.fin) done[i] = true;
      }
    });
    if (!done.every(Boolean)) p.link.schedule(p.link.now + 20, readSome);
  };
  readSome();
  let maxUnread = 0;
  p.link.run(() => {
    maxUnread = Math.max(maxUnread, server.streams.recvBufferedBytes);
    return done.every(Boolean);
  }, 60_000);
  assert.ok(done.every(Boolean), "the transfer did not finish");
  ids.forEach((_, i) => assert.equal(hashes[i]!.digest("hex"), createHash("sha256").update(payloads[i]!).digest("hex")));
  assert.ok(maxUnread <= CONN_WINDOW, `the server buffered ${maxUnread} unread bytes`);
});

test("a writer sees backpressure past the stream's high-water mark and a writable event once data drains", () => {
  const p = makePair({ config: { streamHighWaterMark: 64 * 1024 } });
  const server = establish(p);
  const s = p.conn.openStream(true)!;
  let accepted = true;
  let written = 0;
  while (accepted) {
    accepted = p.conn.streamWrite(s.id, new Uint8Array(16 * 1024));
    written += 16 * 1024;
  }
  assert.ok(written >= 64 * 1024 && written <= 96 * 1024);
  let writable = false;
  p.link.run(() => {
    for (let r = server.streamRead(s.id); r; r = server.streamRead(s.id));
    for (let e = p.conn.poll(); e; e = p.conn.poll()) if (e.type === "writable" && e.streamId === s.id) writable = true;
    return writable;
  }, 5_000);
  assert.ok(writable);
});
