import { test } from "node:test";
import assert from "node:assert/strict";
import {
  countsInFlight,
  countsInFlightType,
  frameAllowedIn,
  FrameType,
  isAckEliciting,
  isAckElicitingType,
  isProbingFrame,
  isProbingType,
  PacketType,
  type Frame,
} from "../../../src/quic/frames/index.js";

const { Initial: I, ZeroRtt: Z, Handshake: H, OneRtt: O } = PacketType;

/**
 * RFC 9000 Table 3 "Pkts" column as letters, with the section 12.5
 * refinements (0x1d not in Initial/Handshake; RETIRE_CONNECTION_ID not in
 * 0-RTT), RFC 9221 section 5 for DATAGRAM and the ack-frequency draft
 * section 3 for its frames.
 */
const table: Array<[number, string]> = [
  [0x00, "IH01"], // PADDING
  [0x01, "IH01"], // PING
  [0x02, "IH_1"], // ACK
  [0x03, "IH_1"],
  [0x04, "__01"], // RESET_STREAM
  [0x05, "__01"], // STOP_SENDING
  [0x06, "IH_1"], // CRYPTO
  [0x07, "___1"], // NEW_TOKEN
  ...[0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f].map((t): [number, string] => [t, "__01"]), // STREAM
  [0x10, "__01"], // MAX_DATA
  [0x11, "__01"], // MAX_STREAM_DATA
  [0x12, "__01"], // MAX_STREAMS
  [0x13, "__01"],
  [0x14, "__01"], // DATA_BLOCKED
  [0x15, "__01"], // STREAM_DATA_BLOCKED
  [0x16, "__01"], // STREAMS_BLOCKED
  [0x17, "__01"],
  [0x18, "__01"], // NEW_CONNECTION_ID
  [0x19, "___1"], // RETIRE_CONNECTION_ID (12.5: never in 0-RTT)
  [0x1a, "__01"], // PATH_CHALLENGE
  [0x1b, "___1"], // PATH_RESPONSE
  [0x1c, "IH01"], // CONNECTION_CLOSE (transport)
  [0x1d, "__01"], // CONNECTION_CLOSE (application)
  [0x1e, "___1"], // HANDSHAKE_DONE
  [0x1f, "___1"], // IMMEDIATE_ACK
  [0x30, "__01"], // DATAGRAM
  [0x31, "__01"],
  [0xaf, "___1"], // ACK_FREQUENCY
  [0x20, "____"], // unknown
  [0x40, "____"],
];

test("frameAllowedIn follows RFC 9000 Table 3 and section 12.5 for every frame type", () => {
  for (const [t, pkts] of table) {
    assert.equal(frameAllowedIn(t, I), pkts[0] === "I", `0x${t.toString(16)} in Initial`);
    assert.equal(frameAllowedIn(t, H), pkts[1] === "H", `0x${t.toString(16)} in Handshake`);
    assert.equal(frameAllowedIn(t, Z), pkts[2] === "0", `0x${t.toString(16)} in 0-RTT`);
    assert.equal(frameAllowedIn(t, O), pkts[3] === "1", `0x${t.toString(16)} in 1-RTT`);
  }
});

test("Initial and Handshake allow exactly PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE 0x1c", () => {
  const allowed = [];
  for (let t = 0; t < 0x100; t++) if (frameAllowedIn(t, I)) allowed.push(t);
  assert.deepEqual(allowed, [0x00, 0x01, 0x02, 0x03, 0x06, 0x1c]);
  for (let t = 0; t < 0x100; t++) assert.equal(frameAllowedIn(t, H), frameAllowedIn(t, I));
});

test("Retry and Version Negotiation packets carry no frames (RFC 9000 12.4)", () => {
  for (let t = 0; t < 0x100; t++) {
    assert.equal(frameAllowedIn(t, PacketType.Retry), false);
    assert.equal(frameAllowedIn(t, PacketType.VersionNegotiation), false);
  }
});

test("0-RTT forbids ACK, CRYPTO, HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE and RETIRE_CONNECTION_ID (RFC 9000 12.5)", () => {
  for (const t of [FrameType.ACK, FrameType.ACK_ECN, FrameType.CRYPTO, FrameType.HANDSHAKE_DONE, FrameType.NEW_TOKEN, FrameType.PATH_RESPONSE, FrameType.RETIRE_CONNECTION_ID]) {
    assert.equal(frameAllowedIn(t, Z), false, `0x${t.toString(16)}`);
  }
});

test("ack-eliciting, in-flight and probing predicates follow RFC 9002 section 2 and RFC 9000 9.1", () => {
  for (let t = 0; t <= 0x1f; t++) {
    const ackOnly = t === 0x02 || t === 0x03;
    const close = t === 0x1c || t === 0x1d;
    assert.equal(isAckElicitingType(t), !(ackOnly || close || t === 0x00), `0x${t.toString(16)} ack-eliciting`);
    assert.equal(countsInFlightType(t), !(ackOnly || close), `0x${t.toString(16)} in flight`);
    assert.equal(isProbingType(t), t === 0x00 || t === 0x18 || t === 0x1a || t === 0x1b, `0x${t.toString(16)} probing`);
  }
  assert.ok(isAckElicitingType(0x30) && isAckElicitingType(0xaf) && isAckElicitingType(0x1f));
  const frames: Array<[Frame, boolean, boolean, boolean]> = [
    [{ type: "padding", length: 1 }, false, true, true],
    [{ type: "ack", largest: 0, ackDelay: 0, ranges: [0, 0], ecn: null }, false, false, false],
    [{ type: "connection_close", application: false, errorCode: 0, frameType: 0, reason: new Uint8Array() }, false, false, false],
    [{ type: "ping" }, true, true, false],
    [{ type: "path_challenge", data: new Uint8Array(8) }, true, true, true],
    [{ type: "datagram", data: new Uint8Array() }, true, true, false],
  ];
  for (const [f, elicit, flight, probe] of frames) {
    assert.equal(isAckEliciting(f), elicit, f.type);
    assert.equal(countsInFlight(f), flight, f.type);
    assert.equal(isProbingFrame(f), probe, f.type);
  }
});
