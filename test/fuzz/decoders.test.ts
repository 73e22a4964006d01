/**
 * Issue 7 fuzzing: what the per-module property tests leave out.
 *  - varint (readVarint) on random bytes;
 *  - every TLS handshake message decoder called directly (the engine-level
 *    fuzz in test/tls/fuzz.test.ts reaches them only through the state machine),
 *    on random bytes and on mutations of the messages of a real handshake;
 *  - a per-case time bound on every call;
 *  - "huge length prefix, tiny input" cases for every decoder: they must fail
 *    fast with the typed error and must not allocate by the claimed length.
 * FUZZ_RUNS sets the case count per property (default 300 here).
 * See test/fuzz/README.md for the whole decoder table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteReader } from "../../src/util/bytes.js";
import { DecodeError, TsquicError } from "../../src/util/errors.js";
import { readVarint, varintLength, writeVarint, VARINT_MAX } from "../../src/quic/varint.js";
import { ByteWriter } from "../../src/util/bytes.js";
import { QuicTransportError } from "../../src/quic/errors.js";
import { decodeFrames, PacketType as FramePacketType } from "../../src/quic/frames/index.js";
import { parsePacketHeader } from "../../src/quic/packet/index.js";
import { decodeTransportParameters } from "../../src/quic/transport-params.js";
import { TlsAlertError } from "../../src/tls/alerts.js";
import {
  decodeCertificate as decodeTlsCertificate,
  decodeCertificateRequest,
  decodeCertificateVerify,
  decodeClientHello,
  decodeEncryptedExtensions,
  decodeExtensions,
  decodeFinished,
  decodeKeyUpdate,
  decodeNewSessionTicket,
  decodeServerHello,
} from "../../src/tls/messages.js";
import { decodeCertificate as decodeX509 } from "../../src/pki/certificate.js";
import { H3Error } from "../../src/h3/errors.js";
import { FrameReader, readStreamHeader, type FrameStreamKind } from "../../src/h3/frames.js";
import { QpackDecoder } from "../../src/h3/qpack/decoder.js";
import { QpackEncoder } from "../../src/h3/qpack/encoder.js";
import { huffmanDecode } from "../../src/h3/qpack/huffman.js";
import { HqRequestError, parseRequestLine, RequestLineBuffer } from "../../src/hq/request-line.js";
import { handshake, testPki } from "../tls/helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** Per-call bound: far above any legitimate decode of these small inputs, far below a hang. */
const CASE_MS = Number(process.env.FUZZ_CASE_MS ?? 1000);

type ErrorClass = abstract new (...args: never[]) => Error;

/** Runs `fn`; it must return or throw one of `allowed`, within CASE_MS. Returns the value or the error. */
function typed<T>(what: string, allowed: readonly ErrorClass[], fn: () => T): T | Error {
  const t0 = performance.now();
  let out: T | Error;
  try {
    out = fn();
  } catch (e) {
    if (!allowed.some((c) => e instanceof c)) {
      assert.fail(`${what}: unexpected ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? e}`);
    }
    out = e as Error;
  }
  const ms = performance.now() - t0;
  assert.ok(ms < CASE_MS, `${what}: one case took ${ms.toFixed(0)} ms`);
  return out;
}

/** Mutations of a valid input: bit flips, byte overwrites, cuts, inserted runs, 0xff length bytes. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("ff" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(input: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = new Uint8Array(input);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.kind === "insert" ? 1 : 0));
    switch (m.kind) {
      case "flip":
        if (b.length) b[at]! ^= 1 << m.bit;
        break;
      case "set":
        if (b.length) b[at] = m.v;
        break;
      case "cut":
        b = b.subarray(0, at);
        break;
      case "insert": {
        const n = new Uint8Array(b.length + m.bytes.length);
        n.set(b.subarray(0, at));
        n.set(m.bytes, at);
        n.set(b.subarray(at), at + m.bytes.length);
        b = n;
        break;
      }
      case "ff":
        for (let i = 0; i < m.n && at + i < b.length; i++) b[at + i] = 0xff;
        break;
    }
  }
  return b;
}

// ---------------------------------------------------------------- varint

test("fuzz: readVarint on random bytes returns a value of the length its prefix says, or DecodeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 10 }), fc.nat({ max: 10 }), (bytes, start) => {
      const r = new ByteReader(bytes, Math.min(start, bytes.length));
      const before = r.offset;
      const v = typed("readVarint", [DecodeError], () => readVarint(r));
      if (v instanceof Error) {
        assert.ok(bytes.length - before < 1 << (bytes[before]! >>> 6) || before === bytes.length);
        return;
      }
      assert.ok(Number.isFinite(v) && v >= 0 && v <= 2 ** 62);
      assert.equal(r.offset - before, 1 << (bytes[before]! >>> 6));
    }),
    { numRuns: RUNS },
  );
});

test("fuzz: varints round-trip in their shortest form", () => {
  fc.assert(
    fc.property(fc.oneof(fc.nat({ max: 0x3fffffff }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constant(VARINT_MAX)), (v) => {
      const w = new ByteWriter();
      writeVarint(w, v);
      const bytes = w.finish();
      assert.equal(bytes.length, varintLength(v));
      assert.equal(readVarint(new ByteReader(bytes)), v);
    }),
    { numRuns: RUNS },
  );
});

// ---------------------------------------------------------------- TLS messages

const TLS_ERRORS = [DecodeError, TlsAlertError] as const;
interface TlsTarget {
  name: string;
  type: number;
  decode: (body: Uint8Array) => unknown;
}
const tlsTargets: TlsTarget[] = [
  { name: "ClientHello", type: 1, decode: decodeClientHello },
  { name: "ServerHello", type: 2, decode: decodeServerHello },
  { name: "NewSessionTicket", type: 4, decode: decodeNewSessionTicket },
  { name: "EncryptedExtensions", type: 8, decode: decodeEncryptedExtensions },
  { name: "Certificate", type: 11, decode: decodeTlsCertificate },
  { name: "CertificateRequest", type: 13, decode: decodeCertificateRequest },
  { name: "CertificateVerify", type: 15, decode: decodeCertificateVerify },
  { name: "Finished/SHA-256", type: 20, decode: (b) => decodeFinished(b, 32) },
  { name: "Finished/SHA-384", type: 20, decode: (b) => decodeFinished(b, 48) },
  { name: "KeyUpdate", type: 24, decode: decodeKeyUpdate },
  { name: "extensions block", type: -1, decode: (b) => decodeExtensions(new ByteReader(b)) },
];

/** Bodies of every handshake message of a real handshake (with client auth, so CertificateRequest appears), by type. */
const realBodies = (() => {
  const out = new Map<number, Uint8Array[]>();
  const rec = handshake({ cert: testPki().client.pem, key: testPki().client.keyPem }, { requestClientCertificate: true });
  assert.equal(rec.error, undefined);
  rec.server.sendSessionTicket(Date.now());
  const streams = new Map<string, Uint8Array[]>(); // per sender and level: messages may span events
  const add = (who: string, level: string, data: Uint8Array) => streams.set(who + level, [...(streams.get(who + level) ?? []), data]);
  for (const d of rec.clientData) add("c", d.level, d.data);
  for (const d of rec.serverData) add("s", d.level, d.data);
  for (let ev = rec.server.poll(); ev; ev = rec.server.poll()) if (ev.type === "data") add("s", ev.level, ev.data);
  for (const parts of streams.values()) {
    const data = Buffer.concat(parts);
    for (let o = 0; o + 4 <= data.length; ) {
      const len = (data[o + 1]! << 16) | (data[o + 2]! << 8) | data[o + 3]!;
      const body = data.subarray(o + 4, o + 4 + len);
      const list = out.get(data[o]!) ?? [];
      list.push(new Uint8Array(body));
      out.set(data[o]!, list);
      o += 4 + len;
    }
  }
  // The extension block of the ClientHello (after legacy_version, random, session id, suites, compression).
  const ch = out.get(1)?.[0];
  if (ch) {
    const r = new ByteReader(ch);
    r.skip(34);
    r.vec8();
    r.vec16();
    r.vec8();
    out.set(-1, [ch.subarray(r.offset)]);
  }
  return out;
})();

test("fuzz fixture: the real handshake gave a body for every TLS message type but KeyUpdate", () => {
  for (const t of [1, 2, 4, 8, 11, 13, 15, 20, -1]) assert.ok(realBodies.get(t)?.length, `no message of type ${t}`);
  for (const t of tlsTargets) {
    for (const body of realBodies.get(t.type) ?? []) {
      if (t.name === "Finished/SHA-384" && body.length !== 48) continue;
      if (t.name === "Finished/SHA-256" && body.length !== 32) continue;
      assert.ok(!(typed(t.name, TLS_ERRORS, () => t.decode(body)) instanceof Error), `${t.name} fixture decodes`);
    }
  }
});

for (const t of tlsTargets) {
  test(`fuzz: TLS ${t.name} decoder on random bytes and mutated real messages: a value, DecodeError or TlsAlertError`, () => {
    const seeds = realBodies.get(t.type) ?? [new Uint8Array(t.type === 24 ? [1] : [0, 0, 0, 0])];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([s, ms]) => mutate(s, ms)),
        ),
        (body) => {
          typed(t.name, TLS_ERRORS, () => t.decode(body));
        },
      ),
      { numRuns: RUNS },
    );
  });
}

// ---------------------------------------------------------------- huge length prefixes

/** Memory now: JS heap plus ArrayBuffer backing stores. */
const mem = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const u8 = (...b: number[]) => new Uint8Array(b);

interface HugeCase {
  name: string;
  allowed: readonly ErrorClass[];
  run: () => unknown;
}
const qpack = () => new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 4, maxFieldSectionSize: 16384 });
const ONES_64K = new Uint8Array(65536).fill(0xff);
const A_1M = new Uint8Array(1 << 20).fill(0x61);
const hugeCases: HugeCase[] = [
  // QUIC
  { name: "varint 8-byte prefix, 1 byte", allowed: [DecodeError], run: () => readVarint(new ByteReader(u8(0xff))) },
  { name: "STREAM frame, length 2^62-1", allowed: [QuicTransportError], run: () => decodeFrames(u8(0x0a, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1), FramePacketType.OneRtt) },
  { name: "STREAM frame, offset+length past 2^62", allowed: [QuicTransportError], run: () => decodeFrames(u8(0x0e, 0x00, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80, 0xff, 0xff, 0xff), FramePacketType.OneRtt) },
  { name: "CRYPTO frame, length 2^30", allowed: [QuicTransportError], run: () => decodeFrames(u8(0x06, 0x00, 0xbf, 0xff, 0xff, 0xff), FramePacketType.Initial) },
  { name: "NEW_TOKEN, length 2^62-1", allowed: [QuicTransportError], run: () => decodeFrames(u8(0x07, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), FramePacketType.OneRtt) },
  { name: "ACK, range count 2^62-1", allowed: [QuicTransportError], run: () => decodeFrames(u8(0x02, 0x10, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00), FramePacketType.OneRtt) },
  { name: "CONNECTION_CLOSE reason 2^30", allowed: [QuicTransportError], run: () => decodeFrames(u8(0x1c, 0x01, 0x00, 0xbf, 0xff, 0xff, 0xff), FramePacketType.OneRtt) },
  { name: "DATAGRAM length 2^62-1", allowed: [QuicTransportError], run: () => decodeFrames(u8(0x31, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), FramePacketType.OneRtt) },
  { name: "Initial header: token length 2^62-1", allowed: [DecodeError], run: () => parsePacketHeader(u8(0xc0, 0, 0, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0, 15, 0, false) },
  { name: "Initial header: length 2^30", allowed: [DecodeError], run: () => parsePacketHeader(u8(0xc0, 0, 0, 0, 1, 0, 0, 0, 0xbf, 0xff, 0xff, 0xff, 0), 0, 13, 0, false) },
  { name: "transport parameter length 2^62-1", allowed: [QuicTransportError], run: () => decodeTransportParameters(u8(0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "server") },
  // TLS
  { name: "ClientHello: session id 255 bytes", allowed: TLS_ERRORS, run: () => decodeClientHello(new Uint8Array([3, 3, ...new Array(32).fill(0), 0xff])) },
  { name: "ClientHello: suites 65535 bytes", allowed: TLS_ERRORS, run: () => decodeClientHello(new Uint8Array([3, 3, ...new Array(32).fill(0), 0, 0xff, 0xff])) },
  { name: "Certificate: list 2^24-1", allowed: TLS_ERRORS, run: () => decodeTlsCertificate(u8(0, 0xff, 0xff, 0xff)) },
  { name: "Certificate: entry 2^24-1", allowed: TLS_ERRORS, run: () => decodeTlsCertificate(u8(0, 0, 0, 4, 0xff, 0xff, 0xff, 0)) },
  { name: "NewSessionTicket: ticket 65535", allowed: TLS_ERRORS, run: () => decodeNewSessionTicket(u8(0, 0, 0, 1, 0, 0, 0, 0, 0, 0xff, 0xff)) },
  { name: "extensions: block 65535", allowed: TLS_ERRORS, run: () => decodeExtensions(new ByteReader(u8(0xff, 0xff, 0, 0))) },
  { name: "CertificateVerify: signature 65535", allowed: TLS_ERRORS, run: () => decodeCertificateVerify(u8(8, 7, 0xff, 0xff)) },
  { name: "Finished: hash length 2^31 claimed", allowed: TLS_ERRORS, run: () => decodeFinished(u8(1, 2, 3), 2 ** 31) },
  // X.509 / DER
  { name: "DER: long-form length 2^32-1", allowed: [DecodeError, TsquicError], run: () => decodeX509(u8(0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0)) },
  { name: "DER: long-form length with 8 length bytes", allowed: [DecodeError, TsquicError], run: () => decodeX509(u8(0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)) },
  { name: "DER: length 0x7f nested", allowed: [DecodeError, TsquicError], run: () => decodeX509(u8(0x30, 0x81, 0x7f, 0x30, 0x83, 0x7f, 0xff, 0xff)) },
  // QPACK / Huffman / HTTP/3
  { name: "QPACK field section: literal name length 2^62", allowed: [H3Error], run: () => qpack().decodeFieldSection(0, u8(0, 0, 0x27, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)) },
  { name: "QPACK field section: value length 2^28", allowed: [H3Error], run: () => qpack().decodeFieldSection(0, u8(0, 0, 0x5f, 0x0a, 0x7f, 0xff, 0xff, 0xff, 0x7f)) },
  { name: "QPACK encoder stream: Set Capacity 2^62", allowed: [H3Error], run: () => qpack().onEncoderStreamData(u8(0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)) },
  { name: "QPACK encoder stream: insert literal, name length 2^28", allowed: [H3Error], run: () => qpack().onEncoderStreamData(u8(0x5f, 0xff, 0xff, 0xff, 0x7f, 0x61)) },
  { name: "QPACK decoder stream: Section Ack stream 2^62", allowed: [H3Error], run: () => new QpackEncoder().onDecoderStreamData(u8(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)) },
  { name: "Huffman: 64 KiB of all-ones", allowed: [H3Error], run: () => huffmanDecode(ONES_64K) },
  { name: "HTTP/3 HEADERS frame length 2^62-1", allowed: [H3Error], run: () => drainFrames("request", u8(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)) },
  { name: "HTTP/3 SETTINGS frame length 2^30", allowed: [H3Error], run: () => drainFrames("control", u8(0x04, 0xbf, 0xff, 0xff, 0xff, 0x01)) },
  { name: "HTTP/3 reserved frame length 2^62-1", allowed: [H3Error], run: () => drainFrames("request", u8(0x21, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)) },
  { name: "HTTP/3 stream header: push id 2^62-1", allowed: [H3Error], run: () => readStreamHeader(u8(0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)) },
  // hq-interop
  { name: "hq request line: 1 MiB without CRLF", allowed: [HqRequestError], run: () => parseRequestLine(A_1M, { maxLength: 1024 }) },
  { name: "hq RequestLineBuffer: 1 MiB chunk without CRLF", allowed: [HqRequestError], run: () => new RequestLineBuffer({ maxLength: 1024 }).push(A_1M) },
];

function drainFrames(kind: FrameStreamKind, bytes: Uint8Array): unknown[] {
  const r = new FrameReader({ stream: kind });
  r.push(bytes);
  const out: unknown[] = [];
  for (let f = r.next(); f !== undefined && f !== null && out.length < 100; f = r.next()) out.push(f);
  return out;
}

const HUGE_REPEAT = Number(process.env.FUZZ_HUGE_REPEAT ?? 200);
const MEM_SLACK = 8 * 1024 * 1024;

for (const c of hugeCases) {
  test(`huge length, tiny input fails fast without allocating: ${c.name}`, () => {
    const base = mem();
    let peak = 0;
    for (let i = 0; i < HUGE_REPEAT; i++) {
      typed(c.name, c.allowed, c.run);
      if (i % 10 === 0) peak = Math.max(peak, mem() - base);
    }
    peak = Math.max(peak, mem() - base);
    assert.ok(peak < MEM_SLACK, `${c.name}: memory grew by ${(peak / 1048576).toFixed(1)} MiB`);
  });
}
