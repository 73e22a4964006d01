/**
 * The sans-IO HTTP/3 connection (RFC 9114) in memory: two H3Connections
 * over a simulated link, or one against a raw transport connection that
 * writes crafted frames, to check every rule answers with the right code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { H3ErrorCode } from "../../src/h3/errors.js";
import {
  encodeCancelPushFrame,
  encodeFrameHeader,
  encodeGoawayFrame,
  encodeHeadersFrame,
  encodeMaxPushIdFrame,
  encodePushPromiseFrame,
  encodeReservedFrame,
  encodeSettingsFrame,
  StreamType,
} from "../../src/h3/frames.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import type { H3Event } from "../../src/h3/connection.js";
import type { Header } from "../../src/h3/qpack/primitives.js";
import type { Connection, ConnectionEvent } from "../../src/quic/connection.js";
import { h3Pair } from "./h3-pair.js";
import { cat } from "./helpers.js";
import { closeCodeSeenBy, dataFrame, headersFrame, openControl, openUni, rawRequest, requestToRawServer } from "./raw-peer.js";

const te = new TextEncoder();

const GET: Header[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":authority", "localhost"],
  [":path", "/"],
];

/** A server H3Connection facing a raw client: returns the pair once the server's SETTINGS reached the raw side. */
function serverVsRaw(onEvent?: (e: H3Event) => void) {
  const p = h3Pair({ rawClient: true, onEvent: (side, e) => side === "server" && onEvent?.(e) });
  return p;
}

/** Runs until the raw side sees a RESET_STREAM on `streamId`; returns its code. */
function resetCodeSeenBy(p: ReturnType<typeof h3Pair>, streamId: number): number {
  assert.ok(p.run(() => p.rawEvents.some((e) => e.type === "reset" && e.streamId === streamId)), `stream ${streamId} was reset`);
  const e = p.rawEvents.find((x): x is Extract<ConnectionEvent, { type: "reset" }> => x.type === "reset" && x.streamId === streamId)!;
  return e.errorCode;
}

const reply = (p: { server: { sendResponse(id: number, h: Header[], end?: boolean): boolean; sendData(id: number, d: Uint8Array, end?: boolean): boolean } }, id: number, body: string): void => {
  p.server.sendResponse(id, [
    [":status", "200"],
    ["content-type", "text/plain"],
  ]);
  p.server.sendData(id, te.encode(body), true);
};

// ------------------------------------------------------------ happy paths

test("a GET request and its response cross an in-memory pair; both sides exchange SETTINGS first", () => {
  const p = h3Pair({
    server: { maxFieldSectionSize: 10_000 },
    onEvent(side, e) {
      if (side === "server" && e.type === "end") reply(p, e.streamId, "hello");
    },
  });
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "settings") && p.serverEvents.some((e) => e.type === "settings")));
  assert.equal(p.client.peerSettings?.maxFieldSectionSize, 10_000);
  assert.equal(p.server.peerSettings?.qpackMaxTableCapacity, 4096);
  // A reserved setting was sent to exercise the peer's tolerance (RFC 9114 section 7.2.4.1).
  assert.equal(p.server.peerSettings?.extra?.length, 1);
  const id = p.client.sendRequest(GET, true)!;
  assert.equal(id, 0);
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "end")));
  const evs = p.clientEvents.filter((e) => "streamId" in e);
  assert.deepEqual(
    evs.map((e) => e.type),
    ["headers", "data", "end"],
  );
  assert.equal(new TextDecoder().decode((evs[1] as { data: Uint8Array }).data), "hello");
  const req = p.serverEvents.find((e) => e.type === "headers") as Extract<H3Event, { type: "headers" }>;
  assert.deepEqual(req.headers, GET);
});

test("request body, trailers, interim responses and response trailers are delivered in order", () => {
  const p = h3Pair({
    onEvent(side, e) {
      if (side === "server" && e.type === "end") {
        p.server.sendResponse(e.streamId, [[":status", "103"], ["link", "</a.css>; rel=preload"]]);
        p.server.sendResponse(e.streamId, [[":status", "200"]]);
        p.server.sendData(e.streamId, te.encode("ok"));
        p.server.sendTrailers(e.streamId, [["x-checksum", "abc"]]);
      }
    },
  });
  p.run(() => p.clientEvents.some((e) => e.type === "ready"));
  const id = p.client.sendRequest([[":method", "POST"], [":scheme", "https"], [":authority", "localhost"], [":path", "/up"], ["content-length", "6"]])!;
  p.client.sendData(id, te.encode("abc"));
  p.client.sendData(id, te.encode("def"));
  p.client.sendTrailers(id, [["x-sum", "6"]]);
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "end")));
  assert.deepEqual(
    p.serverEvents.filter((e) => "streamId" in e).map((e) => e.type),
    ["headers", "data", "data", "trailers", "end"],
  );
  const client = p.clientEvents.filter((e) => "streamId" in e);
  assert.deepEqual(
    client.map((e) => (e.type === "headers" ? `headers${e.interim ? "(interim)" : ""}` : e.type)),
    ["headers(interim)", "headers", "data", "trailers", "end"],
  );
  assert.deepEqual((client[3] as { headers: Header[] }).headers, [["x-checksum", "abc"]]);
});

test("the QPACK dynamic table is used both ways and sections blocked on it are decoded when the inserts arrive", () => {
  const p = h3Pair({
    onEvent(side, e) {
      if (side === "server" && e.type === "end") {
        p.server.sendResponse(e.streamId, [[":status", "200"], ["content-type", "application/x-custom"], ["server", "tsquic-test"]], true);
      }
    },
  });
  p.run(() => p.client.peerSettings !== undefined && p.server.peerSettings !== undefined);
  const headers: Header[] = [...GET, ["user-agent", "tsquic-test/1.0"], ["accept", "application/x-custom"]];
  for (let i = 0; i < 3; i++) {
    p.client.sendRequest(headers, true);
    assert.ok(p.run(() => p.clientEvents.filter((e) => e.type === "end").length === i + 1));
  }
  const c = p.client.qpackStats();
  const s = p.server.qpackStats();
  assert.ok(c.encoderInsertCount >= 3, `client inserted ${c.encoderInsertCount}`);
  assert.equal(s.decoderInsertCount, c.encoderInsertCount);
  assert.ok(s.encoderInsertCount >= 2, `server inserted ${s.encoderInsertCount}`);
  assert.equal(c.decoderInsertCount, s.encoderInsertCount);
  for (const e of p.serverEvents) if (e.type === "headers") assert.deepEqual(e.headers, headers);
});

test("a header section that references entries not yet received blocks its stream until the encoder stream catches up", () => {
  const p = serverVsRaw((e) => {
    if (e.type === "end") p.server.sendResponse(e.streamId, [[":status", "204"]], true);
  });
  const conn = p.rawClientConn;
  p.run(() => p.server.peerSettings === undefined && conn.streams.availableStreams(false) >= 3, 100);
  openControl(conn, { qpackMaxTableCapacity: 0 });
  const encoderStream = openUni(conn, StreamType.QPACK_ENCODER);
  const qpack = new QpackEncoder();
  qpack.applyPeerSettings({ maxTableCapacity: 4096, blockedStreams: 100 });
  const section = qpack.encodeFieldSection(0, [...GET, ["user-agent", "blocked-test"]]);
  const instructions = qpack.takeEncoderStreamData();
  assert.ok(instructions.length > 0, "the encoder inserted entries");
  const id = rawRequest(conn, encodeHeadersFrame(section));
  assert.ok(p.run(() => p.server.qpackStats().blockedStreams === 1));
  p.settle(200);
  assert.equal(p.serverEvents.filter((e) => e.type === "headers").length, 0, "no request before the inserts");
  conn.streamWrite(encoderStream, instructions);
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "end" && e.streamId === id)));
  const req = p.serverEvents.find((e) => e.type === "headers") as Extract<H3Event, { type: "headers" }>;
  assert.deepEqual(req.headers.at(-1), ["user-agent", "blocked-test"]);
  assert.equal(p.server.qpackStats().blockedStreams, 0);
  // The server acknowledged the section on its decoder stream (RFC 9204 section 4.4.1).
  assert.ok(p.run(() => p.rawEvents.some((e) => e.type === "readable" && e.streamId === 11)));
});

test("unknown and reserved frame types are skipped on control and request streams", () => {
  const p = serverVsRaw((e) => {
    if (e.type === "end") p.server.sendResponse(e.streamId, [[":status", "200"]], true);
  });
  const conn = p.rawClientConn;
  openControl(conn, {}, cat(encodeReservedFrame(3, te.encode("padding")), encodeFrameHeader(0x1234, 2), te.encode("xx")));
  const id = rawRequest(conn, cat(encodeReservedFrame(0), headersFrame(GET), encodeReservedFrame(7, new Uint8Array(100)), encodeFrameHeader(0xabcd, 0)));
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "end" && e.streamId === id)));
  assert.ok(!p.rawEvents.some((e) => e.type === "connection_closed"));
});

test("unknown and reserved unidirectional stream types are ignored with STOP_SENDING(H3_STREAM_CREATION_ERROR)", () => {
  const p = serverVsRaw((e) => {
    if (e.type === "end") p.server.sendResponse(e.streamId, [[":status", "200"]], true);
  });
  const conn = p.rawClientConn;
  openControl(conn);
  const reserved = openUni(conn, 0x1f * 5 + 0x21, new Uint8Array(50));
  const unknown = openUni(conn, 0x54, new Uint8Array(10));
  const id = rawRequest(conn, headersFrame(GET));
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "end" && e.streamId === id)));
  assert.ok(p.run(() => p.rawEvents.filter((e) => e.type === "stop_sending").length === 2));
  for (const sid of [reserved, unknown]) {
    const e = p.rawEvents.find((x) => x.type === "stop_sending" && x.streamId === sid) as { errorCode: number } | undefined;
    assert.equal(e?.errorCode, H3ErrorCode.H3_STREAM_CREATION_ERROR);
  }
  assert.ok(!p.rawEvents.some((e) => e.type === "connection_closed"));
});

test("a unidirectional stream closed before its type arrives is tolerated", () => {
  const p = serverVsRaw();
  const conn = p.rawClientConn;
  openControl(conn);
  const s = conn.openStream(false)!;
  conn.streamWrite(s.id, new Uint8Array(0), true);
  const s2 = conn.openStream(false)!;
  conn.streamWrite(s2.id, new Uint8Array([0x40]), false); // first byte of a 2-byte varint
  conn.streamReset(s2.id, 0x100);
  p.settle(300);
  assert.ok(!p.rawEvents.some((e) => e.type === "connection_closed"));
});

test("pauseReading holds a request body back through flow control; resumeReading lets it through", () => {
  const p = h3Pair({ config: { transport: { initialMaxStreamDataBidiRemote: 64 * 1024, initialMaxStreamDataBidiLocal: 64 * 1024 } } });
  p.run(() => p.server.peerSettings !== undefined);
  const id = p.client.sendRequest([[":method", "POST"], [":scheme", "https"], [":authority", "x"], [":path", "/"]])!;
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "headers")));
  p.server.pauseReading(id);
  const chunk = new Uint8Array(16 * 1024);
  let backpressure = false;
  for (let i = 0; i < 64 && !backpressure; i++) backpressure = !p.client.sendData(id, chunk);
  p.client.endStream(id);
  p.settle(500);
  const received = (): number => p.serverEvents.reduce((n, e) => n + (e.type === "data" ? e.data.length : 0), 0);
  const sent = p.client.transport.getStream(id)!.send!.writtenBytes;
  assert.ok(received() < 100, `no content delivered while paused (${received()})`);
  // The transport buffered at most about one stream window for us.
  assert.ok(p.server.transport.streams.recvBufferedBytes <= 80 * 1024, `buffered ${p.server.transport.streams.recvBufferedBytes}`);
  assert.ok(sent > 80 * 1024, "the client wrote more than the window");
  p.server.resumeReading(id);
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "end")));
  const dataFrames = Math.ceil(sent / (16 * 1024 + 3));
  assert.ok(received() >= sent - dataFrames * 4 - 200, `everything arrives after resuming (${received()} of ~${sent})`);
});

test("client cancel resets the request both ways with H3_REQUEST_CANCELLED", () => {
  const p = h3Pair();
  p.run(() => p.server.peerSettings !== undefined);
  const id = p.client.sendRequest([[":method", "POST"], [":scheme", "https"], [":authority", "x"], [":path", "/"]])!;
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "headers")));
  p.client.cancel(id);
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "reset")));
  const r = p.serverEvents.find((e) => e.type === "reset") as Extract<H3Event, { type: "reset" }>;
  assert.equal(r.errorCode, H3ErrorCode.H3_REQUEST_CANCELLED);
  assert.equal(r.remote, true);
  p.settle(500);
  assert.equal(p.server.activeRequests, 0, "the stream is gone at both ends");
  assert.equal(p.client.activeRequests, 0);
});

// ------------------------------------------------------------------ GOAWAY

test("graceful shutdown: GOAWAY names the next request stream, in-flight requests finish, later ones are rejected, then H3_NO_ERROR", () => {
  let finishFirst: (() => void) | undefined;
  const p = h3Pair({
    onEvent(side, e) {
      if (side === "server" && e.type === "end") finishFirst = () => reply(p, e.streamId, "late");
    },
  });
  p.run(() => p.server.peerSettings !== undefined);
  const id = p.client.sendRequest(GET, true)!;
  assert.ok(p.run(() => finishFirst !== undefined));
  p.server.shutdown();
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "goaway")));
  assert.deepEqual(p.clientEvents.find((e) => e.type === "goaway"), { type: "goaway", id: id + 4 });
  assert.throws(() => p.client.sendRequest(GET, true), /going away/);
  assert.equal(p.client.canSendRequest, false);
  finishFirst!();
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "closed")));
  const closed = p.clientEvents.find((e) => e.type === "closed") as Extract<H3Event, { type: "closed" }>;
  assert.equal(closed.info.errorCode, H3ErrorCode.H3_NO_ERROR);
  assert.equal(closed.error, undefined, "a clean close");
  assert.ok(p.clientEvents.some((e) => e.type === "end" && e.streamId === id), "the in-flight response completed");
});

test("a request arriving at or above the GOAWAY ID is rejected with H3_REQUEST_REJECTED", () => {
  const p = serverVsRaw();
  const conn = p.rawClientConn;
  openControl(conn);
  const first = rawRequest(conn, headersFrame(GET), false);
  assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "headers")));
  p.server.shutdown();
  const late = rawRequest(conn, headersFrame(GET));
  assert.equal(late, first + 4);
  assert.equal(resetCodeSeenBy(p, late), H3ErrorCode.H3_REQUEST_REJECTED);
  assert.ok(!p.serverEvents.some((e) => e.type === "headers" && e.streamId === late), "never surfaced to the application");
});

test("a client treats a GOAWAY with an increasing or non-request stream ID as H3_ID_ERROR", () => {
  for (const ids of [[8, 12], [5]]) {
    const p = h3Pair({ rawServer: true });
    const conn = p.rawServerConn;
    openControl(conn, {}, cat(...ids.map((id) => encodeGoawayFrame(id))));
    assert.equal(closeCodeSeenBy(p), H3ErrorCode.H3_ID_ERROR, `GOAWAY ${ids.join(", ")}`);
  }
});

test("a client marks requests at or above a received GOAWAY ID as rejected, so they can be retried", () => {
  const p = h3Pair({ rawServer: true });
  const conn = p.rawServerConn;
  p.run(() => p.client.canSendRequest);
  const a = p.client.sendRequest(GET, true)!;
  const b = p.client.sendRequest(GET, true)!;
  const ctl = openControl(conn);
  p.settle(100);
  conn.streamWrite(ctl, encodeGoawayFrame(b));
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "goaway")));
  const resets = p.clientEvents.filter((e) => e.type === "reset") as Array<Extract<H3Event, { type: "reset" }>>;
  assert.deepEqual(
    resets.map((r) => [r.streamId, r.errorCode]),
    [[b, H3ErrorCode.H3_REQUEST_REJECTED]],
  );
  assert.ok(!resets.some((r) => r.streamId === a));
});

// --------------------------------------------------- malformed messages

const malformedRequests: Array<[string, Header[], string?]> = [
  ["missing :method", [[":scheme", "https"], [":authority", "x"], [":path", "/"]]],
  ["missing :scheme", [[":method", "GET"], [":authority", "x"], [":path", "/"]]],
  ["missing :path", [[":method", "GET"], [":scheme", "https"], [":authority", "x"]]],
  ["empty :path", [[":method", "GET"], [":scheme", "https"], [":authority", "x"], [":path", ""]]],
  ["missing :authority and host", [[":method", "GET"], [":scheme", "https"], [":path", "/"]]],
  ["duplicate :path", [...GET, [":path", "/b"]]],
  ["an undefined pseudo-header", [...GET, [":protocol", "websocket"]]],
  ["a response pseudo-header", [...GET, [":status", "200"]]],
  ["a pseudo-header after a regular field", [[":method", "GET"], ["accept", "*/*"], [":scheme", "https"], [":authority", "x"], [":path", "/"]]],
  ["an uppercase field name", [...GET, ["X-Upper", "1"]]],
  ["a connection-specific field", [...GET, ["connection", "keep-alive"]]],
  ["transfer-encoding", [...GET, ["transfer-encoding", "chunked"]]],
  ["TE other than trailers", [...GET, ["te", "gzip"]]],
  ["a CR in a value", [...GET, ["x-a", "a\rb"]]],
  ["a space in a name", [...GET, ["x a", "1"]]],
  [":authority and host that differ", [...GET, ["host", "other"]]],
  ["an invalid content-length", [...GET, ["content-length", "12a"]]],
];

for (const [what, headers] of malformedRequests) {
  test(`a request with ${what} is a stream error H3_MESSAGE_ERROR; the connection lives on`, () => {
    const p = serverVsRaw((e) => {
      if (e.type === "end") p.server.sendResponse(e.streamId, [[":status", "200"]], true);
    });
    const conn = p.rawClientConn;
    openControl(conn);
    // No FIN: the server must also tell us to stop sending.
    const bad = rawRequest(conn, headersFrame(headers), false);
    assert.equal(resetCodeSeenBy(p, bad), H3ErrorCode.H3_MESSAGE_ERROR);
    // STOP_SENDING too: both directions are cancelled (RFC 9114 section 4.1.1).
    assert.ok(p.run(() => p.rawEvents.some((e) => e.type === "stop_sending" && e.streamId === bad)));
    const stop = p.rawEvents.find((e) => e.type === "stop_sending") as { errorCode: number };
    assert.equal(stop.errorCode, H3ErrorCode.H3_MESSAGE_ERROR);
    const reset = p.serverEvents.find((e) => e.type === "reset") as Extract<H3Event, { type: "reset" }>;
    assert.equal(reset.remote, false);
    assert.ok(!p.serverEvents.some((e) => e.type === "headers"), "never surfaced as a request");
    const good = rawRequest(conn, headersFrame(GET));
    assert.ok(p.run(() => p.serverEvents.some((e) => e.type === "end" && e.streamId === good)));
  });
}

test("content-length that disagrees with the DATA received is H3_MESSAGE_ERROR (too little at the end, too much at once)", () => {
  const p = serverVsRaw();
  const conn = p.rawClientConn;
  openControl(conn);
  const post = (len: string): Header[] => [[":method", "POST"], [":scheme", "https"], [":authority", "x"], [":path", "/"], ["content-length", len]];
  const short = rawRequest(conn, cat(headersFrame(post("10")), dataFrame("12345")));
  const long = rawRequest(conn, cat(headersFrame(post("3")), dataFrame("12345")), false);
  assert.equal(resetCodeSeenBy(p, short), H3ErrorCode.H3_MESSAGE_ERROR);
  assert.equal(resetCodeSeenBy(p, long), H3ErrorCode.H3_MESSAGE_ERROR);
  assert.ok(!p.serverEvents.some((e) => e.type === "data" && e.streamId === long), "no byte past content-length is delivered");
});

test("a request stream that ends before its header section is H3_REQUEST_INCOMPLETE", () => {
  const p = serverVsRaw();
  const conn = p.rawClientConn;
  openControl(conn);
  const s = rawRequest(conn, encodeReservedFrame(1));
  assert.equal(resetCodeSeenBy(p, s), H3ErrorCode.H3_REQUEST_INCOMPLETE);
});

test("a request header section above SETTINGS_MAX_FIELD_SECTION_SIZE is answered with 431", () => {
  const p = h3Pair({ rawClient: true, server: { maxFieldSectionSize: 1000 } });
  const conn = p.rawClientConn;
  openControl(conn);
  const id = rawRequest(conn, headersFrame([...GET, ["x-big", "a".repeat(2000)]]));
  assert.ok(p.run(() => p.rawEvents.some((e) => e.type === "readable" && e.streamId === id)));
  const r = conn.streamRead(id)!;
  // HEADERS frame of a 431 response, then FIN.
  assert.equal(r.data[0], 0x01);
  assert.ok(!p.serverEvents.some((e) => e.type === "headers"));
  assert.ok(!p.rawEvents.some((e) => e.type === "connection_closed"));
});

test("client side: responses without :status, with request pseudo-headers, content on HEAD, or content-length mismatches are H3_MESSAGE_ERROR", () => {
  const cases: Array<[string, Header[], Uint8Array, string]> = [
    ["no :status", [["content-type", "text/plain"]], new Uint8Array(0), "GET"],
    [":path in a response", [[":status", "200"], [":path", "/"]], new Uint8Array(0), "GET"],
    ["invalid :status", [[":status", "2000"]], new Uint8Array(0), "GET"],
    ["content in a HEAD response", [[":status", "200"], ["content-length", "5"]], dataFrame("hello"), "HEAD"],
    ["content-length mismatch", [[":status", "200"], ["content-length", "10"]], dataFrame("hello"), "GET"],
    ["content in a 204", [[":status", "204"]], dataFrame("x"), "GET"],
  ];
  for (const [what, response, content, method] of cases) {
    const p = h3Pair({ rawServer: true });
    const conn = p.rawServerConn;
    openControl(conn);
    p.run(() => p.client.canSendRequest);
    const id = p.client.sendRequest([[":method", method], ...GET.slice(1)], true)!;
    assert.ok(p.run(() => p.rawEvents.some((e) => e.type === "readable" && e.streamId === id)));
    while (conn.streamRead(id));
    conn.streamWrite(id, cat(headersFrame(response), content), true);
    assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "reset")), what);
    const r = p.clientEvents.find((e) => e.type === "reset") as Extract<H3Event, { type: "reset" }>;
    assert.equal(r.errorCode, H3ErrorCode.H3_MESSAGE_ERROR, what);
    // A short body is only known to be short at its end; otherwise no content may reach the application.
    if (what !== "content-length mismatch") assert.ok(!p.clientEvents.some((e) => e.type === "data"), `${what}: no content delivered`);
  }
});

test("a HEAD response keeps its content-length without content", () => {
  const p = h3Pair({
    onEvent(side, e) {
      if (side === "server" && e.type === "end") p.server.sendResponse(e.streamId, [[":status", "200"], ["content-length", "1234"]], true);
    },
  });
  p.run(() => p.client.canSendRequest);
  p.client.sendRequest([[":method", "HEAD"], ...GET.slice(1)], true);
  assert.ok(p.run(() => p.clientEvents.some((e) => e.type === "end")));
  assert.ok(!p.clientEvents.some((e) => e.type === "reset"));
});

// ------------------------------------------------------ connection errors

const serverConnectionErrors: Array<[string, number, (conn: Connection, settle: () => void) => void]> = [
  ["DATA before HEADERS on a request stream", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void rawRequest(c, dataFrame("x"))],
  ["HEADERS after the trailer section", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void rawRequest(c, cat(headersFrame(GET), headersFrame([["x-t", "1"]]), headersFrame([["x-t", "2"]])))],
  ["DATA after the trailer section", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void rawRequest(c, cat(headersFrame(GET), headersFrame([["x-t", "1"]]), dataFrame("late")))],
  ["SETTINGS on a request stream", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void rawRequest(c, cat(headersFrame(GET), encodeSettingsFrame({})))],
  ["GOAWAY on a request stream", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void rawRequest(c, encodeGoawayFrame(0))],
  ["PUSH_PROMISE from a client", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void rawRequest(c, cat(headersFrame(GET), encodePushPromiseFrame(0, new QpackEncoder().encodeFieldSection(0, GET))))],
  ["an HTTP/2 frame type (PRIORITY) on a request stream", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void rawRequest(c, cat(encodeFrameHeader(0x02, 1), new Uint8Array(1)))],
  ["a request stream cut inside a frame", H3ErrorCode.H3_FRAME_ERROR, (c) => void rawRequest(c, headersFrame(GET).subarray(0, 5))],
  ["a first control frame other than SETTINGS", H3ErrorCode.H3_MISSING_SETTINGS, (c) => void openUni(c, StreamType.CONTROL, encodeGoawayFrame(0))],
  ["a second control stream", H3ErrorCode.H3_STREAM_CREATION_ERROR, (c) => void (openControl(c), openControl(c))],
  ["a second QPACK encoder stream", H3ErrorCode.H3_STREAM_CREATION_ERROR, (c) => void (openUni(c, StreamType.QPACK_ENCODER), openUni(c, StreamType.QPACK_ENCODER))],
  ["a second QPACK decoder stream", H3ErrorCode.H3_STREAM_CREATION_ERROR, (c) => void (openUni(c, StreamType.QPACK_DECODER), openUni(c, StreamType.QPACK_DECODER))],
  ["a push stream from a client", H3ErrorCode.H3_STREAM_CREATION_ERROR, (c) => void openUni(c, StreamType.PUSH)],
  ["the control stream closed", H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, (c) => void openUni(c, StreamType.CONTROL, encodeSettingsFrame({}), true)],
  [
    "the control stream reset",
    H3ErrorCode.H3_CLOSED_CRITICAL_STREAM,
    (c, settle) => {
      const id = openControl(c);
      settle(); // a reset before the stream type arrives is tolerated (RFC 9114 section 6.2)
      c.streamReset(id, 0x100);
    },
  ],
  ["the QPACK encoder stream closed", H3ErrorCode.H3_CLOSED_CRITICAL_STREAM, (c) => void openUni(c, StreamType.QPACK_ENCODER, new Uint8Array(0), true)],
  [
    "the QPACK decoder stream reset",
    H3ErrorCode.H3_CLOSED_CRITICAL_STREAM,
    (c, settle) => {
      const id = openUni(c, StreamType.QPACK_DECODER);
      settle();
      c.streamReset(id, 0x100);
    },
  ],
  [
    "STOP_SENDING on our control stream",
    H3ErrorCode.H3_CLOSED_CRITICAL_STREAM,
    (c, settle) => {
      settle(); // the server's control stream (ID 3) reached us
      c.streamStopSending(3, 0x100);
    },
  ],
  ["a second SETTINGS frame", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void openControl(c, {}, encodeSettingsFrame({}))],
  ["DATA on the control stream", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void openControl(c, {}, dataFrame("x"))],
  ["an HTTP/2 setting", H3ErrorCode.H3_SETTINGS_ERROR, (c) => void openControl(c, { extra: [] }, new Uint8Array(0)) /* replaced below */],
  ["MAX_PUSH_ID that decreases", H3ErrorCode.H3_ID_ERROR, (c) => void openControl(c, {}, cat(encodeMaxPushIdFrame(10), encodeMaxPushIdFrame(5)))],
  ["CANCEL_PUSH for a push never promised", H3ErrorCode.H3_ID_ERROR, (c) => void openControl(c, {}, encodeCancelPushFrame(0))],
  ["a malformed QPACK encoder instruction", H3ErrorCode.QPACK_ENCODER_STREAM_ERROR, (c) => void openUni(c, StreamType.QPACK_ENCODER, new Uint8Array([0x3f, 0xff, 0xff, 0xff, 0x0f]))],
  ["a field section referencing a missing dynamic entry", H3ErrorCode.QPACK_DECOMPRESSION_FAILED, (c) => void rawRequest(c, encodeHeadersFrame(new Uint8Array([0x00, 0x00, 0x80])))],
  ["a Section Acknowledgment for nothing on the decoder stream", H3ErrorCode.QPACK_DECODER_STREAM_ERROR, (c) => void openUni(c, StreamType.QPACK_DECODER, new Uint8Array([0x80]))],
];
// A SETTINGS frame carrying ENABLE_PUSH (0x2), an HTTP/2 identifier: built by hand since the encoder refuses it.
serverConnectionErrors.find((x) => x[0] === "an HTTP/2 setting")![2] = (c) =>
  void openUni(c, StreamType.CONTROL, cat(encodeFrameHeader(0x04, 2), new Uint8Array([0x02, 0x00])));

for (const [what, code, act] of serverConnectionErrors) {
  test(`server: ${what} closes the connection with ${code.toString(16)}`, () => {
    const p = serverVsRaw();
    act(p.rawClientConn, () => p.settle(200));
    assert.equal(closeCodeSeenBy(p), code);
    const closed = p.serverEvents.find((e) => e.type === "closed") as Extract<H3Event, { type: "closed" }> | undefined;
    assert.equal(closed?.info.errorCode, code);
    assert.equal((closed?.error as { errorCode?: number } | undefined)?.errorCode, code);
  });
}

const clientConnectionErrors: Array<[string, number, (conn: Connection) => void]> = [
  ["a push stream (no MAX_PUSH_ID was sent)", H3ErrorCode.H3_ID_ERROR, (c) => void openUni(c, StreamType.PUSH)],
  ["a server-initiated bidirectional stream", H3ErrorCode.H3_STREAM_CREATION_ERROR, (c) => void c.streamWrite(c.openStream(true)!.id, new Uint8Array(1))],
  ["MAX_PUSH_ID from a server", H3ErrorCode.H3_FRAME_UNEXPECTED, (c) => void openControl(c, {}, encodeMaxPushIdFrame(1))],
  ["CANCEL_PUSH beyond the maximum push ID", H3ErrorCode.H3_ID_ERROR, (c) => void openControl(c, {}, encodeCancelPushFrame(0))],
];

for (const [what, code, act] of clientConnectionErrors) {
  test(`client: ${what} closes the connection with ${code.toString(16)}`, () => {
    const p = h3Pair({ rawServer: true });
    act(p.rawServerConn);
    assert.equal(closeCodeSeenBy(p), code);
  });
}

test("client: PUSH_PROMISE on a response stream is H3_ID_ERROR (no MAX_PUSH_ID was sent)", () => {
  const { p, conn, id } = requestToRawServer(GET);
  conn.streamWrite(id, encodePushPromiseFrame(0, new QpackEncoder().encodeFieldSection(0, GET)));
  assert.equal(closeCodeSeenBy(p), H3ErrorCode.H3_ID_ERROR);
});

test("sending: invalid headers are refused locally; sends on a reset stream throw", () => {
  const p = h3Pair();
  p.run(() => p.client.canSendRequest);
  assert.throws(() => p.client.sendRequest([[":method", "GET"], [":path", "/"]]), TypeError);
  assert.throws(() => p.client.sendRequest([...GET, ["Upper", "x"]]), TypeError);
  const id = p.client.sendRequest([[":method", "POST"], ...GET.slice(1)])!;
  p.client.cancel(id);
  assert.throws(() => p.client.sendData(id, new Uint8Array(1)), /reset/);
  assert.throws(() => p.server.sendRequest(GET), /only a client/);
});
