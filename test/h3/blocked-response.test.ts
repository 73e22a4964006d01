/**
 * A response whose header section waits for the QPACK encoder stream, and
 * whose whole stream (body and FIN) arrives before the encoder stream does:
 * seen against ngtcp2 at 30 % loss (handshakeloss), where the request hung
 * until the idle timeout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeHeadersFrame, StreamType } from "../../src/h3/frames.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import type { H3Event } from "../../src/h3/connection.js";
import { cat } from "./helpers.js";
import { dataFrame, openUni, requestToRawServer } from "./raw-peer.js";

const GET: Array<[string, string]> = [
  [":method", "GET"],
  [":scheme", "https"],
  [":authority", "localhost"],
  [":path", "/1k.bin"],
];

test("a complete response stream blocked on the encoder stream is delivered once the encoder stream arrives", () => {
  const { p, conn, id } = requestToRawServer(GET);
  while (conn.streamRead(id));
  const qpack = new QpackEncoder();
  qpack.applyPeerSettings({ maxTableCapacity: 4096, blockedStreams: 100 });
  const section = qpack.encodeFieldSection(id, [[":status", "200"], ["content-type", "application/octet-stream"], ["x-served-by", "blocked-test"]]);
  const instructions = qpack.takeEncoderStreamData();
  assert.ok(instructions.length > 0, "the section uses the dynamic table");
  const body = new Uint8Array(1000).fill(7);
  // The whole response and its FIN first; the client reads it all and blocks on the header section.
  conn.streamWrite(id, cat(encodeHeadersFrame(section), dataFrame(body)), true);
  p.settle(200);
  assert.equal(p.clientEvents.filter((e) => e.type === "headers").length, 0, "headers decoded before the inserts arrived");
  openUni(conn, StreamType.QPACK_ENCODER, instructions);
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "end" && e.streamId === id), 2_000), `events: ${p.clientEvents.map((e) => e.type).join(",")}`);
  const data = p.clientEvents.filter((e): e is Extract<H3Event, { type: "data" }> => e.type === "data" && e.streamId === id);
  assert.equal(data.reduce((n, e) => n + e.data.length, 0), body.length);
});
