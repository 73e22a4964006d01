import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { fromHex, toHex } from "../../src/util/bytes.js";
import { QuicTransportError, TransportErrorCode } from "../../src/quic/errors.js";
import {
  checkConnectionIdParameters,
  decodeTransportParameters,
  defaultTransportParameters,
  encodeTransportParameters,
  isReservedTransportParameterId,
  preferredAddressEndpoints,
  TransportParameterId,
  type EndpointRole,
  type TransportParameters,
} from "../../src/quic/transport-params.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const TPE = TransportErrorCode.TRANSPORT_PARAMETER_ERROR;
const PV = TransportErrorCode.PROTOCOL_VIOLATION;
const token = fromHex("000102030405060708090a0b0c0d0e0f");

function params(over: Partial<TransportParameters>): TransportParameters {
  return { ...defaultTransportParameters(), ...over };
}

function rejects(hex: string, sender: EndpointRole, why: string): void {
  assert.throws(
    () => decodeTransportParameters(fromHex(hex), sender),
    (e: unknown) => e instanceof QuicTransportError && e.errorCode === TPE,
    why,
  );
}

test("RFC 9001 A.2: the client's transport parameters decode to the values in the trace", () => {
  const bytes = fromHex(
    "0408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e5157080604" + "8000ffff",
  );
  const p = decodeTransportParameters(bytes, "client");
  assert.deepEqual(
    p,
    params({
      initialMaxData: 2 ** 62, // 2^62-1 as the nearest double
      initialMaxStreamDataBidiLocal: 65535,
      initialMaxStreamDataBidiRemote: 65535,
      initialMaxStreamDataUni: 65535,
      initialMaxStreamsBidi: 16,
      initialMaxStreamsUni: 16,
      maxIdleTimeout: 30000,
      initialSourceConnectionId: fromHex("8394c8f03e515708"),
    }),
  );
  // Re-encoding keeps 2^62-1 as the largest varint.
  const again = encodeTransportParameters(p, "client");
  assert.ok(toHex(again).includes("0408ffffffffffffffff"));
  assert.deepEqual(decodeTransportParameters(again, "client"), p);
});

test("a server parameter set encodes to the bytes of RFC 9000 section 18 (ID, length, value, by ID)", () => {
  const p = params({
    originalDestinationConnectionId: fromHex("8394c8f03e515708"),
    maxIdleTimeout: 30000,
    statelessResetToken: token,
    initialMaxData: 1048576,
    initialMaxStreamsBidi: 100,
    disableActiveMigration: true,
    activeConnectionIdLimit: 4,
    initialSourceConnectionId: fromHex("f067a5502a4262b5"),
  });
  const expected =
    "0008" + "8394c8f03e515708" + "0104" + "80007530" + "0210" + toHex(token) + "0404" + "80100000" + "0802" + "4064" + "0c00" + "0e0104" + "0f08" + "f067a5502a4262b5";
  assert.equal(toHex(encodeTransportParameters(p, "server")), expected);
  assert.deepEqual(decodeTransportParameters(fromHex(expected), "server"), p);
});

test("absent parameters take the RFC 9000 section 18.2 defaults", () => {
  const p = decodeTransportParameters(new Uint8Array(0), "server");
  assert.deepEqual(p, defaultTransportParameters());
  assert.equal(p.maxUdpPayloadSize, 65527);
  assert.equal(p.ackDelayExponent, 3);
  assert.equal(p.maxAckDelay, 25);
  assert.equal(p.activeConnectionIdLimit, 2);
  assert.equal(p.maxIdleTimeout, 0);
  assert.equal(p.maxDatagramFrameSize, undefined);
  assert.equal(encodeTransportParameters(p, "client").length, 0);
});

test("every parameter round-trips on its own", () => {
  const pa = {
    ipv4Address: fromHex("c0000201"),
    ipv4Port: 443,
    ipv6Address: fromHex("20010db8000000000000000000000001"),
    ipv6Port: 8443,
    connectionId: fromHex("0102030405"),
    statelessResetToken: token,
  };
  const cases: Array<[Partial<TransportParameters>, EndpointRole]> = [
    [{ originalDestinationConnectionId: fromHex("0102") }, "server"],
    [{ originalDestinationConnectionId: new Uint8Array(0) }, "server"],
    [{ maxIdleTimeout: 12345 }, "client"],
    [{ statelessResetToken: token }, "server"],
    [{ maxUdpPayloadSize: 1200 }, "client"],
    [{ maxUdpPayloadSize: 1500 }, "server"],
    [{ initialMaxData: 2 ** 40 }, "client"],
    [{ initialMaxStreamDataBidiLocal: 1 }, "client"],
    [{ initialMaxStreamDataBidiRemote: 70000 }, "server"],
    [{ initialMaxStreamDataUni: 63 }, "client"],
    [{ initialMaxStreamsBidi: 2 ** 60 }, "client"],
    [{ initialMaxStreamsUni: 3 }, "server"],
    [{ ackDelayExponent: 0 }, "client"],
    [{ ackDelayExponent: 20 }, "server"],
    [{ maxAckDelay: 0 }, "client"],
    [{ maxAckDelay: 2 ** 14 - 1 }, "server"],
    [{ disableActiveMigration: true }, "client"],
    [{ preferredAddress: pa }, "server"],
    [{ activeConnectionIdLimit: 8 }, "client"],
    [{ initialSourceConnectionId: new Uint8Array(0) }, "client"],
    [{ initialSourceConnectionId: new Uint8Array(20).fill(7) }, "server"],
    [{ retrySourceConnectionId: fromHex("aabbcc") }, "server"],
    [{ maxDatagramFrameSize: 65535 }, "client"],
    [{ maxDatagramFrameSize: 0 }, "server"],
    [{ greaseQuicBit: true }, "client"],
    [{ versionInformation: { chosenVersion: 1, availableVersions: [0x6b3343cf, 1] } }, "client"],
    [{ versionInformation: { chosenVersion: 1, availableVersions: [] } }, "server"],
    [{ minAckDelay: 1000 }, "client"],
    [{ minAckDelay: 25000 }, "server"],
  ];
  for (const [over, sender] of cases) {
    const p = params(over);
    const enc = encodeTransportParameters(p, sender);
    assert.ok(enc.length > 0, JSON.stringify(over));
    assert.deepEqual(decodeTransportParameters(enc, sender), p, JSON.stringify(over));
  }
});

test("extension parameters use their registered identifiers", () => {
  assert.equal(toHex(encodeTransportParameters(params({ maxDatagramFrameSize: 65535 }), "client")), "2004" + "8000ffff");
  assert.equal(toHex(encodeTransportParameters(params({ greaseQuicBit: true }), "client")), "6ab200");
  assert.equal(
    toHex(encodeTransportParameters(params({ versionInformation: { chosenVersion: 1, availableVersions: [1] } }), "client")),
    "1108" + "00000001" + "00000001",
  );
  assert.equal(toHex(encodeTransportParameters(params({ minAckDelay: 1000 }), "client")), "c0000000ff04de1b" + "02" + "43e8");
  assert.equal(TransportParameterId.MIN_ACK_DELAY, 0xff04de1b);
});

test("unknown and reserved (31 * N + 27) parameters are ignored (RFC 9000 18.1)", () => {
  assert.deepEqual(decodeTransportParameters(fromHex("1b 02 abcd"), "client"), defaultTransportParameters());
  assert.deepEqual(decodeTransportParameters(fromHex("403a 00 4040 03 010203 01 01 05"), "server"), params({ maxIdleTimeout: 5 }));
  assert.ok(isReservedTransportParameterId(27) && isReservedTransportParameterId(27 + 31 * 1000));
  assert.ok(!isReservedTransportParameterId(28) && !isReservedTransportParameterId(0));
});

test("the greased reserved parameter is added on request and ignored by the decoder", () => {
  const p = params({ maxIdleTimeout: 1000 });
  const fixed = encodeTransportParameters(p, "client", { grease: { id: 27 + 31 * 5, value: fromHex("beef") } });
  assert.ok(toHex(fixed).endsWith("40b6" + "02" + "beef")); // 182 as a two-byte varint
  assert.deepEqual(decodeTransportParameters(fixed, "client"), p);
  for (let i = 0; i < 20; i++) {
    const random = encodeTransportParameters(p, "server", { grease: true });
    assert.ok(random.length > encodeTransportParameters(p, "server").length);
    assert.deepEqual(decodeTransportParameters(random, "server"), p);
  }
  assert.throws(() => encodeTransportParameters(p, "client", { grease: { id: 28, value: new Uint8Array() } }), RangeError);
});

test("malformed or out-of-range parameters are a TRANSPORT_PARAMETER_ERROR (RFC 9000 7.4, 18.2)", () => {
  rejects("01 01 05 01 01 05", "client", "duplicate");
  rejects("1b 00 1b 00", "client", "duplicate reserved");
  rejects("01 02 05 00", "client", "integer with a trailing byte");
  rejects("01 00", "client", "empty integer");
  rejects("01 04 80", "client", "value cut short");
  rejects("01", "client", "length missing");
  rejects("03 02 44af", "client", "max_udp_payload_size 1199");
  rejects("0a 01 15", "client", "ack_delay_exponent 21");
  rejects("0b 04 80004000", "server", "max_ack_delay 2^14");
  rejects("0e 01 01", "client", "active_connection_id_limit 1");
  rejects("0e 01 00", "server", "active_connection_id_limit 0");
  rejects("08 08 d000000000000001", "client", "initial_max_streams_bidi 2^60+1");
  rejects("09 08 ffffffffffffffff", "server", "initial_max_streams_uni 2^62-1");
  rejects("0c 01 00", "client", "disable_active_migration with a value");
  rejects("6ab2 01 00", "client", "grease_quic_bit with a value (RFC 9287 3)");
  rejects(`0f 15 ${"00".repeat(21)}`, "client", "21-byte connection ID");
  rejects(`02 0f ${"00".repeat(15)}`, "server", "15-byte stateless_reset_token");
  rejects("11 03 000001", "client", "version_information not a multiple of 4");
  rejects("11 00", "server", "empty version_information");
  rejects("11 04 00000000", "server", "Chosen Version 0 (RFC 9368 4)");
  rejects("11 08 00000001 00000000", "server", "Available Version 0");
  rejects("11 08 00000001 6b3343cf", "client", "client Chosen Version missing from Available Versions");
  rejects("c0000000ff04de1b 04 800061a9", "client", "min_ack_delay 25001us above max_ack_delay 25ms");
  rejects("0b 01 01 c0000000ff04de1b 02 43e9", "server", "min_ack_delay 1001us above max_ack_delay 1ms");
  // The server may list versions without its Chosen Version (RFC 9368 3).
  assert.equal(decodeTransportParameters(fromHex("11 08 00000001 6b3343cf"), "server").versionInformation?.chosenVersion, 1);
});

test("server-only parameters from a client are a TRANSPORT_PARAMETER_ERROR (RFC 9000 18.2)", () => {
  const pa = `c0000201 01bb ${"00".repeat(16)} 0000 04 01020304 ${toHex(token)}`;
  rejects("00 00", "client", "original_destination_connection_id");
  rejects(`02 10 ${toHex(token)}`, "client", "stateless_reset_token");
  rejects(`0d 2d ${pa}`, "client", "preferred_address");
  rejects("10 02 0102", "client", "retry_source_connection_id");
  assert.ok(decodeTransportParameters(fromHex(`0d 2d ${pa}`), "server").preferredAddress);
});

test("preferred_address with a zero-length or oversized connection ID, or a wrong length, is rejected (RFC 9000 18.2)", () => {
  const head = `c0000201 01bb ${"00".repeat(16)} 0000`;
  rejects(`0d 29 ${head} 00 ${toHex(token)}`, "server", "zero-length CID");
  rejects(`0d 3e ${head} 15 ${"00".repeat(21)} ${toHex(token)}`, "server", "21-byte CID");
  rejects(`0d 2c ${head} 04 01020304 ${toHex(token).slice(2)}`, "server", "token cut short");
  rejects(`0d 2e ${head} 04 01020304 ${toHex(token)} 00`, "server", "trailing byte");
});

test("the encoder refuses what the decoder would reject", () => {
  const bad: Array<[Partial<TransportParameters>, EndpointRole]> = [
    [{ statelessResetToken: token }, "client"],
    [{ originalDestinationConnectionId: fromHex("01") }, "client"],
    [{ retrySourceConnectionId: fromHex("01") }, "client"],
    [{ maxUdpPayloadSize: 1199 }, "server"],
    [{ ackDelayExponent: 21 }, "server"],
    [{ maxAckDelay: 2 ** 14 }, "server"],
    [{ activeConnectionIdLimit: 1 }, "server"],
    [{ initialMaxStreamsUni: 2 ** 61 }, "server"],
    [{ initialMaxData: -1 }, "server"],
    [{ initialSourceConnectionId: new Uint8Array(21) }, "server"],
    [{ statelessResetToken: new Uint8Array(15) }, "server"],
    [{ minAckDelay: 26000 }, "server"],
    [{ versionInformation: { chosenVersion: 1, availableVersions: [2] } }, "client"],
    [
      {
        preferredAddress: {
          ipv4Address: new Uint8Array(4),
          ipv4Port: 0,
          ipv6Address: new Uint8Array(16),
          ipv6Port: 0,
          connectionId: new Uint8Array(0),
          statelessResetToken: token,
        },
      },
      "server",
    ],
  ];
  for (const [over, sender] of bad) {
    assert.throws(
      () => encodeTransportParameters(params(over), sender),
      (e: unknown) => e instanceof QuicTransportError && e.errorCode === TPE,
      JSON.stringify(over),
    );
  }
});

test("preferredAddressEndpoints skips an all-zero family", () => {
  const pa = {
    ipv4Address: fromHex("c0000201"),
    ipv4Port: 443,
    ipv6Address: new Uint8Array(16),
    ipv6Port: 0,
    connectionId: fromHex("01"),
    statelessResetToken: token,
  };
  assert.deepEqual(preferredAddressEndpoints(pa), { ipv4: { address: "192.0.2.1", port: 443 } });
  const v6 = { ...pa, ipv4Address: new Uint8Array(4), ipv4Port: 0, ipv6Address: fromHex("20010db8000000000000000000000001"), ipv6Port: 443 };
  assert.deepEqual(preferredAddressEndpoints(v6), { ipv6: { address: "2001:db8:0:0:0:0:0:1", port: 443 } });
});

// --- Connection ID authentication (RFC 9000 section 7.3) ------------------------

const C1 = fromHex("c1c1c1c1");
const S1 = fromHex("5151515151515151");
const S2 = fromHex("5252525252525252");
const S3 = fromHex("53535353");

function code(e: QuicTransportError | null): number | null {
  return e === null ? null : e.errorCode;
}

test("a client accepts the server's connection IDs of Figures 7 and 8 and rejects every deviation", () => {
  const noRetry = { role: "client" as const, peerInitialSourceConnectionId: S3, originalDestinationConnectionId: S1 };
  const withRetry = { ...noRetry, retrySourceConnectionId: S2 };
  const server = (over: Partial<TransportParameters>) =>
    params({ originalDestinationConnectionId: S1, initialSourceConnectionId: S3, ...over });
  // Figure 7 and Figure 8.
  assert.equal(checkConnectionIdParameters(server({}), noRetry), null);
  assert.equal(checkConnectionIdParameters(server({ retrySourceConnectionId: S2 }), withRetry), null);
  // Absences of required parameters: TRANSPORT_PARAMETER_ERROR.
  assert.equal(code(checkConnectionIdParameters(server({ initialSourceConnectionId: undefined }), noRetry)), TPE);
  assert.equal(code(checkConnectionIdParameters(server({ originalDestinationConnectionId: undefined }), noRetry)), TPE);
  // Retry parameter present without a Retry, or missing after one.
  assert.equal(code(checkConnectionIdParameters(server({ retrySourceConnectionId: S2 }), noRetry)), TPE);
  assert.equal(code(checkConnectionIdParameters(server({}), withRetry)), TPE);
  // Values that differ from the packets: PROTOCOL_VIOLATION.
  assert.equal(code(checkConnectionIdParameters(server({ initialSourceConnectionId: S2 }), noRetry)), PV);
  assert.equal(code(checkConnectionIdParameters(server({ originalDestinationConnectionId: S2 }), withRetry)), PV);
  assert.equal(code(checkConnectionIdParameters(server({ retrySourceConnectionId: S1 }), withRetry)), PV);
  // Zero-length IDs are compared like any other (RFC 9000 7.3, last paragraph).
  const empty = new Uint8Array(0);
  assert.equal(checkConnectionIdParameters(server({ initialSourceConnectionId: empty }), { ...noRetry, peerInitialSourceConnectionId: empty }), null);
  assert.equal(code(checkConnectionIdParameters(server({ initialSourceConnectionId: empty }), noRetry)), PV);
});

test("a server checks the client's initial_source_connection_id", () => {
  const seen = { role: "server" as const, peerInitialSourceConnectionId: C1 };
  assert.equal(checkConnectionIdParameters(params({ initialSourceConnectionId: C1 }), seen), null);
  assert.equal(code(checkConnectionIdParameters(params({}), seen)), TPE);
  assert.equal(code(checkConnectionIdParameters(params({ initialSourceConnectionId: S1 }), seen)), PV);
});

// --- Properties -------------------------------------------------------------------

function decodeOrTpe(b: Uint8Array, sender: EndpointRole): void {
  try {
    decodeTransportParameters(b, sender);
  } catch (e) {
    if (!(e instanceof QuicTransportError)) throw e;
    assert.equal(e.errorCode, TPE, e.message);
  }
}

const role = fc.constantFrom<EndpointRole>("client", "server");
const varint = fc.oneof(fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 2 ** 30 }), fc.maxSafeNat());
const cid = fc.uint8Array({ minLength: 0, maxLength: 20 });

/** Valid parameter sets for `sender`. */
function paramsArb(sender: EndpointRole): fc.Arbitrary<TransportParameters> {
  const serverOnly = sender === "server";
  return fc
    .record(
      {
        maxIdleTimeout: varint,
        maxUdpPayloadSize: fc.integer({ min: 1200, max: 65527 }),
        initialMaxData: varint,
        initialMaxStreamDataBidiLocal: varint,
        initialMaxStreamDataBidiRemote: varint,
        initialMaxStreamDataUni: varint,
        initialMaxStreamsBidi: fc.integer({ min: 0, max: 2 ** 60 }),
        initialMaxStreamsUni: fc.integer({ min: 0, max: 1000 }),
        ackDelayExponent: fc.integer({ min: 0, max: 20 }),
        maxAckDelay: fc.integer({ min: 0, max: 2 ** 14 - 1 }),
        disableActiveMigration: fc.boolean(),
        activeConnectionIdLimit: fc.integer({ min: 2, max: 2 ** 40 }),
        greaseQuicBit: fc.boolean(),
        initialSourceConnectionId: fc.option(cid, { nil: undefined }),
        maxDatagramFrameSize: fc.option(varint, { nil: undefined }),
        minAckDelayFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        chosen: fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: undefined }),
        others: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 4 }),
        originalDestinationConnectionId: fc.option(cid, { nil: undefined }),
        retrySourceConnectionId: fc.option(cid, { nil: undefined }),
        statelessResetToken: fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: undefined }),
        preferredCid: fc.option(fc.uint8Array({ minLength: 1, maxLength: 20 }), { nil: undefined }),
        port: fc.integer({ min: 0, max: 0xffff }),
      },
      { requiredKeys: [] },
    )
    .map((r) => {
      const p = defaultTransportParameters();
      for (const k of Object.keys(p) as Array<keyof TransportParameters>) {
        if (r[k as keyof typeof r] !== undefined) (p as unknown as Record<string, unknown>)[k] = r[k as keyof typeof r];
      }
      if (r.initialSourceConnectionId !== undefined) p.initialSourceConnectionId = r.initialSourceConnectionId;
      if (r.maxDatagramFrameSize !== undefined) p.maxDatagramFrameSize = r.maxDatagramFrameSize;
      if (r.minAckDelayFraction !== undefined) p.minAckDelay = Math.floor(r.minAckDelayFraction * p.maxAckDelay * 1000);
      if (r.chosen !== undefined) {
        p.versionInformation = { chosenVersion: r.chosen, availableVersions: sender === "client" ? [...(r.others ?? []), r.chosen] : (r.others ?? []) };
      }
      if (serverOnly) {
        if (r.originalDestinationConnectionId !== undefined) p.originalDestinationConnectionId = r.originalDestinationConnectionId;
        if (r.retrySourceConnectionId !== undefined) p.retrySourceConnectionId = r.retrySourceConnectionId;
        if (r.statelessResetToken !== undefined) p.statelessResetToken = r.statelessResetToken;
        if (r.preferredCid !== undefined) {
          p.preferredAddress = {
            ipv4Address: fromHex("7f000001"),
            ipv4Port: r.port ?? 0,
            ipv6Address: new Uint8Array(16),
            ipv6Port: r.port ?? 0,
            connectionId: r.preferredCid,
            statelessResetToken: token,
          };
        }
      }
      return p;
    });
}

test("random bytes decode to parameters or a TRANSPORT_PARAMETER_ERROR", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), role, (b, r) => decodeOrTpe(b, r)),
    { numRuns: RUNS },
  );
});

test("mutated valid encodings decode to parameters or a TRANSPORT_PARAMETER_ERROR", () => {
  fc.assert(
    fc.property(paramsArb("server"), role, fc.array(fc.tuple(fc.nat(), fc.integer({ min: -1, max: 255 })), { minLength: 1, maxLength: 4 }), (p, r, muts) => {
      let b = Array.from(encodeTransportParameters(p, "server"));
      for (const [at, v] of muts) {
        if (b.length === 0) break;
        if (v < 0) b = b.slice(0, at % b.length);
        else b[at % b.length] = v;
      }
      decodeOrTpe(new Uint8Array(b), r);
    }),
    { numRuns: RUNS },
  );
});

test("valid parameter sets round-trip and re-encode to the same bytes", () => {
  for (const sender of ["client", "server"] as const) {
    fc.assert(
      fc.property(paramsArb(sender), fc.boolean(), (p, grease) => {
        const enc = encodeTransportParameters(p, sender, { grease });
        const dec = decodeTransportParameters(enc, sender);
        assert.deepEqual(dec, p);
        assert.equal(toHex(encodeTransportParameters(dec, sender)), toHex(encodeTransportParameters(p, sender)));
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  }
});
