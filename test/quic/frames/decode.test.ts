import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteReader, fromHex, toHex } from "../../../src/util/bytes.js";
import { QuicTransportError, TransportErrorCode } from "../../../src/quic/errors.js";
import {
  decodeFrames,
  encodeFrame,
  FrameType,
  PacketType,
  parseFrame,
  parseFrames,
  PAYLOAD_ACK_ELICITING,
  PAYLOAD_IN_FLIGHT,
  PAYLOAD_NON_PROBING,
  type Frame,
} from "../../../src/quic/frames/index.js";

const { FRAME_ENCODING_ERROR: FEE, PROTOCOL_VIOLATION: PV } = TransportErrorCode;

function one(hex: string): Frame {
  const frames = decodeFrames(fromHex(hex), PacketType.OneRtt);
  assert.equal(frames.length, 1, `expected one frame in ${hex}`);
  return frames[0]!;
}

/** Asserts that decoding `hex` in `pt` fails with `code` naming `frameType`. */
function rejects(hex: string | Uint8Array, code: number, frameType: number | undefined, pt: PacketType = PacketType.OneRtt): void {
  const bytes = typeof hex === "string" ? fromHex(hex) : hex;
  assert.throws(
    () => decodeFrames(bytes, pt),
    (e: unknown) => {
      assert.ok(e instanceof QuicTransportError, `not a QuicTransportError: ${String(e)}`);
      assert.equal(e.errorCode, code, e.message);
      assert.equal(e.frameType, frameType, e.message);
      return true;
    },
  );
}

// Each vector is written by hand from the RFC 9000 section 19 figures (RFC 9221 section 4, ack-frequency draft 4-5).
const vectors: Array<[string, string, Frame]> = [
  ["PING (19.2)", "01", { type: "ping" }],
  ["ACK with one gap (19.3)", "02 0a 00 01 02 01 03", { type: "ack", largest: 10, ackDelay: 0, ranges: [10, 8, 5, 2], ecn: null }],
  ["ACK_ECN (19.3.2)", "03 05 4064 00 05 01 02 03", { type: "ack", largest: 5, ackDelay: 100, ranges: [5, 0], ecn: { ect0: 1, ect1: 2, ce: 3 } }],
  ["RESET_STREAM (19.4)", "04 04 0a 4100", { type: "reset_stream", streamId: 4, errorCode: 10, finalSize: 256 }],
  ["STOP_SENDING (19.5)", "05 08 0b", { type: "stop_sending", streamId: 8, errorCode: 11 }],
  ["CRYPTO (19.6)", "06 00 03 aabbcc", { type: "crypto", offset: 0, data: fromHex("aabbcc") }],
  ["NEW_TOKEN (19.7)", "07 02 1234", { type: "new_token", token: fromHex("1234") }],
  ["STREAM OFF|LEN|FIN (19.8)", "0f 04 4400 03 616263", { type: "stream", streamId: 4, offset: 1024, data: fromHex("616263"), fin: true }],
  ["STREAM LEN only", "0a 00 02 6869", { type: "stream", streamId: 0, offset: 0, data: fromHex("6869"), fin: false }],
  ["STREAM to end of packet", "08 00 616263", { type: "stream", streamId: 0, offset: 0, data: fromHex("616263"), fin: false }],
  ["STREAM empty with FIN", "0d 04 05", { type: "stream", streamId: 4, offset: 5, data: new Uint8Array(0), fin: true }],
  ["MAX_DATA (19.9)", "10 4400", { type: "max_data", maximum: 1024 }],
  ["MAX_STREAM_DATA (19.10)", "11 04 4400", { type: "max_stream_data", streamId: 4, maximum: 1024 }],
  ["MAX_STREAMS bidi (19.11)", "12 0a", { type: "max_streams", bidi: true, maximum: 10 }],
  ["MAX_STREAMS uni at 2^60", "13 d000000000000000", { type: "max_streams", bidi: false, maximum: 2 ** 60 }],
  ["DATA_BLOCKED (19.12)", "14 4400", { type: "data_blocked", limit: 1024 }],
  ["STREAM_DATA_BLOCKED (19.13)", "15 08 20", { type: "stream_data_blocked", streamId: 8, limit: 32 }],
  ["STREAMS_BLOCKED bidi (19.14)", "16 03", { type: "streams_blocked", bidi: true, limit: 3 }],
  ["STREAMS_BLOCKED uni", "17 04", { type: "streams_blocked", bidi: false, limit: 4 }],
  [
    "NEW_CONNECTION_ID (19.15)",
    "18 02 01 04 01020304 000102030405060708090a0b0c0d0e0f",
    {
      type: "new_connection_id",
      sequence: 2,
      retirePriorTo: 1,
      connectionId: fromHex("01020304"),
      statelessResetToken: fromHex("000102030405060708090a0b0c0d0e0f"),
    },
  ],
  ["RETIRE_CONNECTION_ID (19.16)", "19 03", { type: "retire_connection_id", sequence: 3 }],
  ["PATH_CHALLENGE (19.17)", "1a 0102030405060708", { type: "path_challenge", data: fromHex("0102030405060708") }],
  ["PATH_RESPONSE (19.18)", "1b 0102030405060708", { type: "path_response", data: fromHex("0102030405060708") }],
  [
    "CONNECTION_CLOSE 0x1c (19.19)",
    "1c 0a 08 03 626164",
    { type: "connection_close", application: false, errorCode: 0x0a, frameType: 8, reason: fromHex("626164") },
  ],
  ["CONNECTION_CLOSE 0x1d", "1d 4100 00", { type: "connection_close", application: true, errorCode: 256, frameType: 0, reason: new Uint8Array(0) }],
  ["HANDSHAKE_DONE (19.20)", "1e", { type: "handshake_done" }],
  ["DATAGRAM with Length (RFC 9221 4)", "31 02 abcd", { type: "datagram", data: fromHex("abcd") }],
  ["DATAGRAM to end of packet", "30 abcd", { type: "datagram", data: fromHex("abcd") }],
  ["DATAGRAM empty", "31 00", { type: "datagram", data: new Uint8Array(0) }],
  [
    "ACK_FREQUENCY (ack-frequency 4)",
    "40af 01 02 4064 03",
    { type: "ack_frequency", sequence: 1, ackElicitingThreshold: 2, requestMaxAckDelay: 100, reorderingThreshold: 3 },
  ],
  ["IMMEDIATE_ACK (ack-frequency 5)", "1f", { type: "immediate_ack" }],
];

test("each frame type decodes from bytes written from its RFC figure", () => {
  for (const [name, hex, frame] of vectors) {
    assert.deepEqual(one(hex), frame, name);
  }
});

test("encoding each decoded vector gives back its bytes (minimal fields, LEN as given)", () => {
  for (const [name, hex, frame] of vectors) {
    const bytes = fromHex(hex);
    // STREAM/DATAGRAM without LEN are the packet's last frame.
    const last = (bytes[0]! & 0xf8) === 0x08 ? (bytes[0]! & 0x02) === 0 : bytes[0] === 0x30;
    // "STREAM empty with FIN" carries OFF with offset 5, LEN absent: encoded as last.
    assert.equal(toHex(encodeFrame(frame, last)), toHex(bytes), name);
  }
});

test("PADDING runs collapse into one frame, with other frames around them", () => {
  const frames = decodeFrames(fromHex("00000001 00 01 0000"), PacketType.Initial);
  assert.deepEqual(frames, [
    { type: "padding", length: 3 },
    { type: "ping" },
    { type: "padding", length: 1 },
    { type: "ping" },
    { type: "padding", length: 2 },
  ]);
});

test("RFC 9001 A.2: the client Initial payload is one CRYPTO frame and 917 bytes of PADDING", () => {
  const crypto =
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c000004130113" +
    "02010000c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d00170018001000070005" +
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce1" +
    "5d43e994ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c00024001003900320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff";
  const payload = new Uint8Array(1162);
  payload.set(fromHex(crypto));
  const frames = decodeFrames(payload, PacketType.Initial);
  assert.equal(frames.length, 2);
  const c = frames[0]!;
  assert.ok(c.type === "crypto");
  assert.equal(c.offset, 0);
  assert.equal(c.data.length, 241);
  assert.equal(c.data[0], 0x01); // ClientHello
  assert.deepEqual(frames[1], { type: "padding", length: 1162 - 245 });
});

test("RFC 9001 A.3: the server Initial payload is an ACK of packet 0 and a CRYPTO frame", () => {
  const payload = fromHex(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5430b9a045a1200" +
      "130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00020304",
  );
  const frames = decodeFrames(payload, PacketType.Initial);
  assert.deepEqual(frames[0], { type: "ack", largest: 0, ackDelay: 0, ranges: [0, 0], ecn: null });
  const c = frames[1]!;
  assert.ok(c.type === "crypto");
  assert.equal(c.data.length, 90);
  assert.equal(c.data[0], 0x02); // ServerHello
});

test("STREAM, CRYPTO and DATAGRAM data are views into the packet, not copies", () => {
  const payload = fromHex("0f 04 4400 03 616263 06 00 02 aabb 30 ccdd");
  const frames = decodeFrames(payload, PacketType.OneRtt);
  for (const f of frames) {
    assert.ok(f.type === "stream" || f.type === "crypto" || f.type === "datagram");
    assert.equal(f.data.buffer, payload.buffer);
  }
});

test("parseFrames reports ack-eliciting, in-flight and probing properties of the packet", () => {
  const flags = (hex: string) => parseFrames(fromHex(hex), PacketType.OneRtt, () => {});
  assert.equal(flags("0200000000"), PAYLOAD_NON_PROBING); // ACK only
  assert.equal(flags("020000000000"), PAYLOAD_NON_PROBING | PAYLOAD_IN_FLIGHT); // ACK + PADDING
  assert.equal(flags("1a0102030405060708 00"), PAYLOAD_ACK_ELICITING | PAYLOAD_IN_FLIGHT); // probing only
  assert.equal(flags("01"), PAYLOAD_ACK_ELICITING | PAYLOAD_IN_FLIGHT | PAYLOAD_NON_PROBING);
  assert.equal(flags("1c000000"), PAYLOAD_NON_PROBING); // CONNECTION_CLOSE
});

test("parseFrame reads one frame and leaves the reader after it", () => {
  const r = new ByteReader(fromHex("10 4400 01"));
  assert.deepEqual(parseFrame(r), { type: "max_data", maximum: 1024 });
  assert.equal(r.offset, 3);
  assert.deepEqual(parseFrame(r), { type: "ping" });
  assert.ok(r.done);
});

test("errors thrown by the frame handler propagate unchanged", () => {
  const boom = new Error("handler");
  assert.throws(() => parseFrames(fromHex("01"), PacketType.OneRtt, () => { throw boom; }), (e) => e === boom);
});

// --- Rejections -------------------------------------------------------------

test("an empty payload is a PROTOCOL_VIOLATION (RFC 9000 12.4)", () => {
  rejects("", PV, undefined);
});

test("unknown frame types are a FRAME_ENCODING_ERROR (RFC 9000 12.4)", () => {
  rejects("20", FEE, 0x20);
  rejects("4040", FEE, 0x40);
  rejects("01 3f", FEE, 0x3f);
  rejects("80004000", FEE, 0x4000);
  rejects("ffffffffffffffff", FEE, 2 ** 62);
  // Unknown even in packet types where nothing unknown could be allowed.
  rejects("20", FEE, 0x20, PacketType.Initial);
});

test("a frame type in a longer encoding than necessary is a PROTOCOL_VIOLATION (RFC 9000 12.4)", () => {
  rejects("4001", PV, 0x01);
  rejects("4021", PV, 0x21); // checked before the type is looked up
  rejects("80000008 00 00", PV, 0x08);
  rejects("c00000000000001e", PV, 0x1e);
  rejects("8000 00af 00 00 00 00", PV, 0xaf);
});

test("ACK ranges that go below packet 0 are a FRAME_ENCODING_ERROR (RFC 9000 19.3.1)", () => {
  rejects("02 05 00 00 06", FEE, 0x02); // First ACK Range above Largest Acknowledged
  rejects("02 05 00 01 01 03 00", FEE, 0x02); // gap lands at -1
  rejects("02 05 00 01 00 00 05", FEE, 0x02); // range length ends at -2
  rejects("03 05 00 00 06 00 00 00", FEE, 0x03);
  // Just inside the limits is fine.
  assert.deepEqual(one("02 05 00 01 01 01 01").type === "ack" && (one("02 05 00 01 01 01 01") as { ranges: number[] }).ranges, [5, 4, 1, 0]);
});

test("truncated frames are a FRAME_ENCODING_ERROR naming the frame type", () => {
  rejects("02 05 00 01 01", FEE, 0x02);
  rejects("02 05 00 40", FEE, 0x02);
  rejects("02 05 00 ff 00", FEE, 0x02); // absurd ACK Range Count
  rejects("03 05 00 00 00 01 02", FEE, 0x03); // ECN counts cut short
  rejects("04 04 0a", FEE, 0x04);
  rejects("05 04", FEE, 0x05);
  rejects("06 00 05 aabb", FEE, 0x06);
  rejects("07 05 aabb", FEE, 0x07);
  rejects("0e 04 01 05 aabb", FEE, 0x0e);
  rejects("0b 04", FEE, 0x0b);
  rejects("10 80", FEE, 0x10);
  rejects("11 04", FEE, 0x11);
  rejects("18 01 00 08 0102", FEE, 0x18);
  rejects("18 01 00 04 01020304 0001", FEE, 0x18);
  rejects("1a 01020304", FEE, 0x1a);
  rejects("1b 01020304050607", FEE, 0x1b);
  rejects("1c 00 00 05 61", FEE, 0x1c);
  rejects("1d 00", FEE, 0x1d);
  rejects("31 05 aa", FEE, 0x31);
  rejects("40af 01 02 03", FEE, 0xaf);
  rejects("40", FEE, 0); // frame type itself cut short
});

test("NEW_TOKEN with an empty token is a FRAME_ENCODING_ERROR (RFC 9000 19.7)", () => {
  rejects("07 00", FEE, 0x07);
});

test("STREAM and CRYPTO past 2^62-1 are a FRAME_ENCODING_ERROR (RFC 9000 19.6, 19.8)", () => {
  // Offset 2^62-1 and one byte: exact despite 2^62-1 not being a double.
  rejects("0e 00 ffffffffffffffff 01 61", FEE, 0x0e);
  rejects("0c 00 ffffffffffffffff 61", FEE, 0x0c);
  rejects("06 ffffffffffffffff 01 61", FEE, 0x06);
  // Offset 2^62-1 with no data is the largest legal frame.
  const f = one("0f 00 ffffffffffffffff 00");
  assert.ok(f.type === "stream" && f.fin && f.data.length === 0);
  // And an offset 2^62-2 carrying one byte reaches exactly 2^62-1.
  assert.equal(one("0e 00 fffffffffffffffe 01 61").type, "stream");
});

test("MAX_STREAMS and STREAMS_BLOCKED above 2^60 are a FRAME_ENCODING_ERROR (RFC 9000 19.11, 19.14)", () => {
  rejects("12 d000000000000001", FEE, 0x12); // 2^60 + 1, exact despite rounding
  rejects("13 ffffffffffffffff", FEE, 0x13);
  rejects("16 d000000000000001", FEE, 0x16);
  rejects("17 e000000000000000", FEE, 0x17);
  assert.equal(one("16 d000000000000000").type, "streams_blocked");
});

test("NEW_CONNECTION_ID length outside 1..20 or Retire Prior To above Sequence Number is a FRAME_ENCODING_ERROR (RFC 9000 19.15)", () => {
  const token = "000102030405060708090a0b0c0d0e0f";
  rejects(`18 01 00 00 ${token}`, FEE, 0x18);
  rejects(`18 01 00 15 ${"00".repeat(21)} ${token}`, FEE, 0x18);
  rejects(`18 01 02 01 aa ${token}`, FEE, 0x18);
  // Equal values above 2^53 compare exactly: 2^60+1 retiring before 2^60.
  rejects(`18 d000000000000000 d000000000000001 01 aa ${token}`, FEE, 0x18);
  assert.equal(one(`18 01 01 14 ${"00".repeat(20)} ${token}`).type, "new_connection_id");
});

test("DATAGRAM is a PROTOCOL_VIOLATION when not advertised or larger than advertised (RFC 9221 3)", () => {
  const fail = (hex: string, max: number) =>
    assert.throws(
      () => decodeFrames(fromHex(hex), PacketType.OneRtt, { maxDatagramFrameSize: max }),
      (e: unknown) => e instanceof QuicTransportError && e.errorCode === PV && e.frameType === parseInt(hex.slice(0, 2), 16),
    );
  fail("31 02 abcd", 0);
  fail("30 abcd", 0);
  fail("31 02 abcd", 3); // the frame is 4 bytes: type, length and two of data
  assert.equal(decodeFrames(fromHex("31 02 abcd"), PacketType.OneRtt, { maxDatagramFrameSize: 4 }).length, 1);
  assert.equal(decodeFrames(fromHex("30 abcd"), PacketType.OneRtt, { maxDatagramFrameSize: 3 }).length, 1);
});

test("ack-frequency frames are unknown unless min_ack_delay was advertised, and bound the requested delay", () => {
  const opts = { ackFrequency: false };
  for (const [hex, t] of [["1f", 0x1f], ["40af 01 02 4064 03", 0xaf]] as const) {
    assert.throws(
      () => decodeFrames(fromHex(hex), PacketType.OneRtt, opts),
      (e: unknown) => e instanceof QuicTransportError && e.errorCode === FEE && e.frameType === t,
    );
  }
  // Requested Max Ack Delay of 2^14 ms is invalid: PROTOCOL_VIOLATION (ack-frequency draft 4).
  rejects("40af 01 02 80fa0000 03", PV, 0xaf);
  assert.equal(one("40af 01 02 80f9ffff 03").type, "ack_frequency");
});

test("the frame type of a frame not allowed in the packet type is reported with PROTOCOL_VIOLATION", () => {
  rejects("0a 00 00", PV, 0x0a, PacketType.Initial);
  rejects("1d 00 00", PV, 0x1d, PacketType.Handshake);
  rejects("02 00 00 00 00", PV, 0x02, PacketType.ZeroRtt);
  rejects("1e", PV, FrameType.HANDSHAKE_DONE, PacketType.ZeroRtt);
  rejects("31 00", PV, 0x31, PacketType.Initial);
});
