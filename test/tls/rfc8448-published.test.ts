/**
 * RFC 8448 section 3 as published (January 2019). The trace kept in
 * /work/shared/rfcs is the last draft, whose randoms and keys differ; these
 * are the values of the published RFC, so the key schedule is checked
 * against both. The transcript hashes are the RFC's (its ClientHello and
 * server flight are not repeated here).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TLS_AES_128_GCM_SHA256 } from "../../src/crypto/suites.js";
import { fromHex, toHex } from "../../src/util/bytes.js";
import { generateKeyShare } from "../../src/tls/key-exchange.js";
import { KeySchedule, finishedKey, trafficKeys } from "../../src/tls/key-schedule.js";

const hex = (s: string) => s.replace(/\s+/g, "");

// RFC 8448 section 3, {client} create an ephemeral x25519 key pair: private key.
const CLIENT_PRIVATE = "49 af 42 ba 7f 79 94 85 2d 71 3e f2 78 4b cb ca a7 91 1d e2 6a dc 56 42 cb 63 45 40 e7 ea 50 05";
// RFC 8448 section 3, {server} create an ephemeral x25519 key pair: public key.
const SERVER_PUBLIC = "c9 82 88 76 11 20 95 fe 66 76 2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f";
// RFC 8448 section 3, {server} extract secret "handshake": IKM (the x25519 shared secret).
const ECDHE = "8b d4 05 4f b5 5b 9d 63 fd fb ac f9 f0 4b 9f 0d 35 e6 d6 3f 53 75 63 ef d4 62 72 90 0f 89 49 2d";
// Transcript-Hash(ClientHello..ServerHello), the "hash" of {server} derive secret "tls13 c hs traffic".
const HASH_CH_SH = "86 0c 06 ed c0 78 58 ee 8e 78 f0 e7 42 8c 58 ed d6 b4 3f 2c a3 e6 e9 5f 02 ed 06 3c f0 e1 ca d8";
// Transcript-Hash(ClientHello..server Finished), the "hash" of {server} derive secret "tls13 c ap traffic".
const HASH_CH_SFIN = "96 08 10 2a 0f 1c cc 6d b6 25 0b 7b 7e 41 7b 1a 00 0e aa da 3d aa e4 77 7a 76 86 c9 ff 83 df 13";

// RFC 8448 section 3 outputs.
const EARLY_SECRET = "33 ad 0a 1c 60 7e c0 3b 09 e6 cd 98 93 68 0c e2 10 ad f3 00 aa 1f 26 60 e1 b2 2e 10 f1 70 f9 2a";
const HANDSHAKE_SECRET = "1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01 04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac";
const CLIENT_HS_TRAFFIC = "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
const SERVER_HS_TRAFFIC = "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";
const MASTER_SECRET = "18 df 06 84 3d 13 a0 8b f2 a4 49 84 4c 5f 8a 47 80 01 bc 4d 4c 62 79 84 d5 a4 1d a8 d0 40 29 19";
const CLIENT_AP_TRAFFIC = "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5";
const SERVER_AP_TRAFFIC = "a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32 82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43";
const EXPORTER_MASTER = "fe 22 f8 81 17 6e da 18 eb 8f 44 52 9e 67 92 c5 0c 9a 3f 89 45 2f 68 d8 ae 31 1b 43 09 d3 cf 50";
const SERVER_HS_KEY = "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc";
const SERVER_HS_IV = "5d 31 3e b2 67 12 76 ee 13 00 0b 30";
const SERVER_FINISHED_KEY = "00 8d 3b 66 f8 16 ea 55 9f 96 b5 37 e8 85 c3 1f c0 68 bf 49 2c 65 2f 01 f2 88 a1 d8 cd c1 9f c8";
const CLIENT_HS_KEY = "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01";
const CLIENT_HS_IV = "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f";
const SERVER_AP_KEY = "9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56";
const SERVER_AP_IV = "cf 78 2b 88 dd 83 54 9a ad f1 e9 84";

test("published RFC 8448 section 3: x25519 shared secret from the RFC's keys", () => {
  const share = generateKeyShare("x25519", () => fromHex(CLIENT_PRIVATE));
  assert.equal(toHex(share.computeSecret(fromHex(SERVER_PUBLIC))), hex(ECDHE));
});

test("published RFC 8448 section 3: the whole key schedule byte for byte", () => {
  const ks = new KeySchedule(TLS_AES_128_GCM_SHA256);
  assert.equal(toHex(ks.extractEarly()), hex(EARLY_SECRET));
  assert.equal(toHex(ks.extractHandshake(fromHex(ECDHE))), hex(HANDSHAKE_SECRET));
  const hs = ks.handshakeTrafficSecrets(fromHex(HASH_CH_SH));
  assert.equal(toHex(hs.client), hex(CLIENT_HS_TRAFFIC));
  assert.equal(toHex(hs.server), hex(SERVER_HS_TRAFFIC));
  assert.equal(toHex(ks.extractMaster()), hex(MASTER_SECRET));
  const ap = ks.applicationTrafficSecrets(fromHex(HASH_CH_SFIN));
  assert.equal(toHex(ap.client), hex(CLIENT_AP_TRAFFIC));
  assert.equal(toHex(ap.server), hex(SERVER_AP_TRAFFIC));
  assert.equal(toHex(ap.exporter), hex(EXPORTER_MASTER));

  const shk = trafficKeys(TLS_AES_128_GCM_SHA256, hs.server);
  assert.equal(toHex(shk.key), hex(SERVER_HS_KEY));
  assert.equal(toHex(shk.iv), hex(SERVER_HS_IV));
  assert.equal(toHex(finishedKey("sha256", hs.server)), hex(SERVER_FINISHED_KEY));
  const chk = trafficKeys(TLS_AES_128_GCM_SHA256, hs.client);
  assert.equal(toHex(chk.key), hex(CLIENT_HS_KEY));
  assert.equal(toHex(chk.iv), hex(CLIENT_HS_IV));
  const sak = trafficKeys(TLS_AES_128_GCM_SHA256, ap.server);
  assert.equal(toHex(sak.key), hex(SERVER_AP_KEY));
  assert.equal(toHex(sak.iv), hex(SERVER_AP_IV));
});
