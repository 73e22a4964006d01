// RFC 9001 Appendix A (QUIC v1) and RFC 9369 Appendix A (QUIC v2), byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fromHex, toHex } from "../../../src/util/bytes.js";
import { hkdfExpandLabel } from "../../../src/crypto/hkdf.js";
import { TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256 } from "../../../src/crypto/suites.js";
import {
  buildRetry,
  deriveInitialSecrets,
  derivePacketKeys,
  LongPacketType,
  nextKeyPhaseSecret,
  PacketProtection,
  PacketType,
  parsePacketHeader,
  patchLongHeaderLength,
  QUIC_V1,
  QUIC_V2,
  validateRetry,
  writeLongHeader,
  writeShortHeader,
  type QuicVersion,
} from "../../../src/quic/packet/index.js";
import * as V from "./vectors.js";

interface VersionVectors {
  version: QuicVersion;
  initialSecret: string;
  client: { secret: string; key: string; iv: string; hp: string };
  server: { secret: string; key: string; iv: string; hp: string };
  clientHeader: string;
  clientPacket: string;
  serverHeader: string;
  serverPacket: string;
  retry: string;
  retrySecret: string;
  chacha: { key: string; iv: string; hp: string; ku: string; packet: string };
}

const EMPTY = new Uint8Array(0);
const DCID = fromHex(V.CLIENT_DCID);
const SERVER_CID = fromHex("f067a5502a4262b5");

const VECTORS: VersionVectors[] = [
  {
    version: QUIC_V1,
    // RFC 9001 Appendix A.1.
    initialSecret: "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44",
    client: {
      secret: "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
      key: "1f369613dd76d5467730efcbe3b1a22d",
      iv: "fa044b2f42a3fd3b46fb255c",
      hp: "9f50449e04a0e810283a1e9933adedd2",
    },
    server: {
      secret: "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
      key: "cf3a5331653c364c88f0f379b6067e37",
      iv: "0ac1493ca1905853b0bba03e",
      hp: "c206b8d9b9f0f37644430b490eeaa314",
    },
    clientHeader: "c300000001088394c8f03e5157080000449e00000002",
    clientPacket: V.V1_CLIENT_INITIAL,
    serverHeader: "c1000000010008f067a5502a4262b50040750001",
    serverPacket: V.V1_SERVER_INITIAL,
    retry: V.V1_RETRY,
    // RFC 9001 section 5.8.
    retrySecret: "d9c9943e6101fd200021506bcc02814c73030f25c79d71ce876eca876e6fca8e",
    // RFC 9001 Appendix A.5.
    chacha: {
      key: "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
      iv: "e0459b3474bdd0e44a41c144",
      hp: "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
      ku: "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9",
      packet: "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
    },
  },
  {
    version: QUIC_V2,
    // RFC 9369 Appendix A.1.
    initialSecret: "2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba",
    client: {
      secret: "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
      key: "8b1a0bc121284290a29e0971b5cd045d",
      iv: "91f73e2351d8fa91660e909f",
      hp: "45b95e15235d6f45a6b19cbcb0294ba9",
    },
    server: {
      secret: "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
      key: "82db637861d55e1d011f19ea71d5d2a7",
      iv: "dd13c276499c0249d3310652",
      hp: "edf6d05c83121201b436e16877593c3a",
    },
    clientHeader: "d36b3343cf088394c8f03e5157080000449e00000002",
    clientPacket: V.V2_CLIENT_INITIAL,
    serverHeader: "d16b3343cf0008f067a5502a4262b50040750001",
    serverPacket: V.V2_SERVER_INITIAL,
    retry: V.V2_RETRY,
    // RFC 9369 section 3.3.3.
    retrySecret: "c4dd2484d681aefa4ff4d69c2c20299984a765a5d3c31982f38fc74162155e9f",
    // RFC 9369 Appendix A.5.
    chacha: {
      key: "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2",
      iv: "a6b5bc6ab7dafce30ffff5dd",
      hp: "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
      ku: "c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88",
      packet: "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
    },
  },
];

// The A.5 example's secret is the same in both RFCs.
const CHACHA_SECRET = fromHex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");

function clientPayload(): Uint8Array {
  const p = new Uint8Array(V.CLIENT_PAYLOAD_LENGTH); // the rest is PADDING (0x00) frames
  p.set(fromHex(V.CLIENT_CRYPTO_FRAME));
  return p;
}

for (const vec of VECTORS) {
  const name = vec.version.name;
  const ref = name === "v1" ? "RFC 9001" : "RFC 9369";

  test(`${name}: Initial secrets and keys match ${ref} Appendix A.1`, () => {
    const s = deriveInitialSecrets(vec.version, DCID);
    assert.equal(toHex(s.client), vec.client.secret);
    assert.equal(toHex(s.server), vec.server.secret);
    for (const [secret, want] of [[s.client, vec.client], [s.server, vec.server]] as const) {
      const k = derivePacketKeys(TLS_AES_128_GCM_SHA256, secret, vec.version);
      assert.equal(toHex(k.key), want.key);
      assert.equal(toHex(k.iv), want.iv);
      assert.equal(toHex(k.hp), want.hp);
    }
    // deriveInitialSecrets also accepts the version number.
    assert.equal(toHex(deriveInitialSecrets(vec.version.number, DCID).client), vec.client.secret);
  });

  test(`${name}: the client Initial is built and protected byte for byte as in ${ref} Appendix A.2`, () => {
    const buf = new Uint8Array(1500);
    const pnOffset = writeLongHeader(buf, 0, vec.version, LongPacketType.Initial, DCID, EMPTY, EMPTY, 2, 4);
    const payload = clientPayload();
    buf.set(payload, pnOffset + 4);
    const payloadEnd = pnOffset + 4 + payload.length;
    patchLongHeaderLength(buf, pnOffset, payloadEnd);
    assert.equal(toHex(buf.subarray(0, pnOffset + 4)), vec.clientHeader);

    const s = deriveInitialSecrets(vec.version, DCID);
    const send = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, s.client, vec.version);
    const end = send.protect(buf, 0, pnOffset, 4, payloadEnd, 2);
    assert.equal(end, 1200);
    assert.equal(toHex(buf.subarray(0, end)), toHex(fromHex(vec.clientPacket)));
  });

  test(`${name}: the server unprotects the ${ref} Appendix A.2 client Initial`, () => {
    const datagram = fromHex(vec.clientPacket);
    const h = parsePacketHeader(datagram, 0, datagram.length, 8);
    assert.equal(h.type, PacketType.Initial);
    assert.equal(h.version, vec.version.number);
    assert.equal(toHex(h.dcid), V.CLIENT_DCID);
    assert.equal(h.scid.length, 0);
    assert.equal(h.token.length, 0);
    assert.equal(h.length, 1182);
    assert.equal(h.pnOffset, 18);
    assert.equal(h.packetEnd, 1200);

    const s = deriveInitialSecrets(vec.version, h.dcid);
    const recv = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, s.client, vec.version);
    const p = recv.unprotect(datagram, 0, h.pnOffset, h.packetEnd, -1);
    assert.equal(p.packetNumber, 2);
    assert.equal(p.pnLength, 4);
    assert.equal(toHex(datagram.subarray(0, p.payloadStart)), vec.clientHeader);
    assert.equal(toHex(datagram.subarray(p.payloadStart, p.payloadEnd)), toHex(clientPayload()));
  });

  test(`${name}: the server Initial matches ${ref} Appendix A.3 both ways`, () => {
    const buf = new Uint8Array(1500);
    const pnOffset = writeLongHeader(buf, 0, vec.version, LongPacketType.Initial, EMPTY, SERVER_CID, undefined, 1, 2);
    const payload = fromHex(V.SERVER_PAYLOAD);
    buf.set(payload, pnOffset + 2);
    const payloadEnd = pnOffset + 2 + payload.length;
    patchLongHeaderLength(buf, pnOffset, payloadEnd);
    assert.equal(toHex(buf.subarray(0, pnOffset + 2)), vec.serverHeader);

    const s = deriveInitialSecrets(vec.version, DCID);
    const end = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, s.server, vec.version).protect(buf, 0, pnOffset, 2, payloadEnd, 1);
    assert.equal(toHex(buf.subarray(0, end)), toHex(fromHex(vec.serverPacket)));

    const datagram = fromHex(vec.serverPacket);
    const h = parsePacketHeader(datagram, 0, datagram.length, 0);
    assert.equal(h.type, PacketType.Initial);
    assert.equal(toHex(h.scid), "f067a5502a4262b5");
    const p = PacketProtection.fromSecret(TLS_AES_128_GCM_SHA256, s.server, vec.version).unprotect(datagram, 0, h.pnOffset, h.packetEnd, 0);
    assert.equal(p.packetNumber, 1);
    assert.equal(toHex(datagram.subarray(p.payloadStart, p.payloadEnd)), toHex(payload));
  });

  test(`${name}: Retry is built and validated as in ${ref} Appendix A.4`, () => {
    // The Retry key and nonce derive from the published secret (RFC 9001 section 5.8; RFC 9369 section 3.3.3).
    const secret = fromHex(vec.retrySecret);
    assert.equal(toHex(hkdfExpandLabel("sha256", secret, vec.version.keyLabel, EMPTY, 16)), toHex(vec.version.retryKey));
    assert.equal(toHex(hkdfExpandLabel("sha256", secret, vec.version.ivLabel, EMPTY, 12)), toHex(vec.version.retryNonce));

    const token = new TextEncoder().encode("token");
    const built = buildRetry(vec.version, EMPTY, SERVER_CID, DCID, token, 0x0f);
    assert.equal(toHex(built), toHex(fromHex(vec.retry)));

    const h = parsePacketHeader(built, 0, built.length, 0);
    assert.equal(h.type, PacketType.Retry);
    assert.equal(new TextDecoder().decode(h.token), "token");
    assert.equal(toHex(h.scid), "f067a5502a4262b5");
    assert.equal(validateRetry(built, h, DCID), true);
    // Another original DCID, or any flipped bit, fails the integrity check.
    assert.equal(validateRetry(built, h, fromHex("8394c8f03e515709")), false);
    // Bytes 0 (Unused bits), 7 (SCID), 16 (token) and the tag.
    for (const i of [0, 7, 16, built.length - 1]) {
      const bad = built.slice();
      bad[i]! ^= 0x01;
      const bh = parsePacketHeader(bad, 0, bad.length, 0);
      assert.equal(validateRetry(bad, bh, DCID), false, `flip at ${i}`);
    }
  });

  test(`${name}: ChaCha20-Poly1305 short header matches ${ref} Appendix A.5`, () => {
    const suite = TLS_CHACHA20_POLY1305_SHA256;
    const k = derivePacketKeys(suite, CHACHA_SECRET, vec.version);
    assert.equal(toHex(k.key), vec.chacha.key);
    assert.equal(toHex(k.iv), vec.chacha.iv);
    assert.equal(toHex(k.hp), vec.chacha.hp);
    assert.equal(toHex(nextKeyPhaseSecret(suite, CHACHA_SECRET, vec.version)), vec.chacha.ku);

    const pn = 654360564;
    const buf = new Uint8Array(64);
    const pnOffset = writeShortHeader(buf, 0, EMPTY, pn, 3, 0);
    assert.equal(toHex(buf.subarray(0, 4)), "4200bff4");
    buf[4] = 0x01; // PING
    const prot = PacketProtection.fromSecret(suite, CHACHA_SECRET, vec.version);
    const end = prot.protect(buf, 0, pnOffset, 3, 5, pn);
    assert.equal(end, 21);
    assert.equal(toHex(buf.subarray(0, end)), vec.chacha.packet);

    const datagram = fromHex(vec.chacha.packet);
    const h = parsePacketHeader(datagram, 0, datagram.length, 0);
    assert.equal(h.type, PacketType.OneRtt);
    const recv = PacketProtection.fromSecret(suite, CHACHA_SECRET, vec.version);
    const p = recv.removeHeaderProtection(datagram, 0, h.pnOffset, h.packetEnd, pn - 1);
    assert.equal(p.keyPhase, 0);
    assert.equal(p.packetNumber, pn);
    recv.decryptPayload(datagram, p);
    assert.equal(toHex(datagram.subarray(p.payloadStart, p.payloadEnd)), "01");
  });
}
