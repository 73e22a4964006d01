/**
 * RFC 8448 ("Example Handshake Traces for TLS 1.3") reproduced byte for byte.
 *
 * The values are those of the trace text kept in /work/shared/rfcs
 * (draft-ietf-tls-tls13-vectors-latest, the last draft of RFC 8448; its
 * randoms and keys differ from the published RFC's, so the secrets do too,
 * but the derivations are identical). Section numbers are the trace's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { TLS_AES_128_GCM_SHA256 } from "../../src/crypto/suites.js";
import { fromHex, toHex } from "../../src/util/bytes.js";
import { HandshakeType } from "../../src/tls/constants.js";
import { generateKeyShare } from "../../src/tls/key-exchange.js";
import { KeySchedule, Transcript, finishedKey, finishedVerifyData, resumptionPsk, trafficKeys } from "../../src/tls/key-schedule.js";
import {
  bindersLength,
  decodeCertificate,
  decodeCertificateVerify,
  decodeClientHello,
  decodeEncryptedExtensions,
  decodeNewSessionTicket,
  decodeServerHello,
  encodeServerHello,
} from "../../src/tls/messages.js";
import { certificatePublicKey, checkCertificateVerify } from "../../src/tls/signature.js";
import { TlsServer } from "../../src/tls/server.js";
import type { TlsEvent } from "../../src/tls/engine.js";
import * as V from "./rfc8448-vectors.js";

const H = (s: string) => fromHex(s);
const hash = "sha256" as const;
const suite = TLS_AES_128_GCM_SHA256;
const body = (message: Uint8Array) => message.subarray(4);

/** A random source handing out fixed values in order (each request must match its length). */
function fixedRandom(values: Uint8Array[]) {
  return (n: number) => {
    const v = values.shift();
    assert.ok(v, `unexpected random request for ${n} bytes`);
    assert.equal(v.length, n);
    return v;
  };
}

// RFC 8448 section 3, "{client} create an ephemeral x25519 key pair".
const S3_CLIENT_PRIVATE = "70a1a8f491e82d530542c6d7a8dcd8cfa9e31f59bb336b550b13bfe199f542c5";
const S3_CLIENT_PUBLIC = "4cfdfcd178b784bf328cae793b136f2aedce005ff183d7bb1495207236647037";
// RFC 8448 section 3, "{server} create an ephemeral x25519 key pair".
const S3_SERVER_PRIVATE = "5aa93ea18f4c5e4a39856f573af4ec1503bad0d5cdabaffc26c1ab4c361f86c8";
const S3_SERVER_PUBLIC = "c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a";
// RFC 8448 section 3, "{server} extract secret "handshake"": IKM (the x25519 shared secret).
const S3_SHARED = "1bea3fdfd25f94033804b68997a55d1931dc51124ad7f6e28959bb4672e3bd13";
// RFC 8448 section 3, "{server} extract secret "early"".
const S3_EARLY_SECRET = "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a";
// RFC 8448 section 3, "{server} extract secret "handshake"".
const S3_HANDSHAKE_SECRET = "f2c66e28ed535dfb8721b7145ca51c8bc058514f79aa881d0d32cbe1341a2e45";
// RFC 8448 section 3, "derive secret "tls13 c hs traffic"": transcript hash and secret.
const S3_HASH_CH_SH = "3d35f3eba0aabf5d9661236e3b5bb938fdc32f409cc27c55499e1f0baa3abd8f";
const S3_C_HS_TRAFFIC = "d7c28b57a857e961b5bf3e1d7b18d02757c4f97acb66a23372e5a7f3d0a71e07";
// RFC 8448 section 3, "derive secret "tls13 s hs traffic"".
const S3_S_HS_TRAFFIC = "3031e9c2c26ecc154bc36826e87feeff8f4547df52596747b2dcabf92b18fb59";
// RFC 8448 section 3, "{server} extract secret "master"".
const S3_MASTER_SECRET = "a12970d9b27a3d59b6ecc1530d284073bd745ddc68d994e7a6ee70881b3d6da6";
// RFC 8448 section 3, "derive secret "tls13 c ap traffic"": transcript hash (ClientHello..server Finished).
const S3_HASH_CH_SF = "b285e2e2beb28adf85ce08112f7c4804cb52347a258edfa9c1bf31f7f808e8ce";
const S3_C_AP_TRAFFIC = "2dca43b0ae13af89e9533d39b65dd25cc22df9e7afcaf082a76895a4da353b50";
// RFC 8448 section 3, "derive secret "tls13 s ap traffic"".
const S3_S_AP_TRAFFIC = "49033ff303eef5739d1376cb6d27ebd695733f3c3f617e7fc76d02a6fac6277f";
// RFC 8448 section 3, "derive secret "tls13 exp master"".
const S3_EXP_MASTER = "319b2e433f189fc5a1d81ea369e3af838cbecb0db8fffd5b9ab205afcdb999d9";
// RFC 8448 section 3, "{server} calculate finished "tls13 finished"": finished_key and verify_data.
const S3_SERVER_FINISHED_KEY = "2456e4d4c3cc526cad20c011327277e2b8834df514fa50db921101293cc627a8";
const S3_SERVER_VERIFY_DATA = "4c92b1b256d861a1830167827d3e288d1a76f03484e9ec886d4ff66149cbec2f";
// RFC 8448 section 3, "{client} calculate finished "tls13 finished"".
const S3_CLIENT_FINISHED_KEY = "34e8b781a8643a166bc10ec40c6c239f5d76005b35c6f35ff7f01075c36aaa66";
const S3_CLIENT_VERIFY_DATA = "80a2c0d6cbc21078dba30affbf091929278edc832db4bfa1c811c9e8c67da9bb";
// RFC 8448 section 3, "derive secret "tls13 res master"": transcript hash (..client Finished) and secret.
const S3_HASH_CH_CF = "31a6e1ceae1e798050f53cac68662eededafcf279cab1c1838b935ffcebf4275";
const S3_RES_MASTER = "a34be53b07ab35b8503d7626a7cad4966873ebdea135c4b2e4cd28e4b812ac54";
// RFC 8448 section 3, "generate resumption secret "tls13 resumption"" (ticket_nonce 00 00).
const S3_RESUMPTION_PSK = "cae5ce63ca4b2a7333a7cef44351eea4b6a0b6dabfe52e8fa8828c57602b807c";
// RFC 8448 section 3, traffic keys: "{server} derive write traffic keys for handshake data".
const S3_SERVER_HS_KEY = "4d15c00e47317fe99c714f8ebd92c4d1";
const S3_SERVER_HS_IV = "18223084735f2f2d8588caaa";
// RFC 8448 section 3, "{server} derive read traffic keys for handshake data".
const S3_CLIENT_HS_KEY = "947fe41b60fa1bcf942d456268476e8d";
const S3_CLIENT_HS_IV = "962df1fc720f9574f7d22248";
// RFC 8448 section 3, "{server} derive write traffic keys for application data".
const S3_SERVER_AP_KEY = "bbe6b3fc9c068c6fb331eca8aa919bfd";
const S3_SERVER_AP_IV = "8057dc46846821a1bea306e0";
// RFC 8448 section 3, "{client} derive write traffic keys for application data".
const S3_CLIENT_AP_KEY = "d92b3e9a88ea7fe2ed69aa9c8b629e91";
const S3_CLIENT_AP_IV = "37a828161ead2b6813ad0b13";

test("RFC 8448 section 3: x25519 key shares and shared secret", () => {
  const client = generateKeyShare("x25519", fixedRandom([H(S3_CLIENT_PRIVATE)]));
  assert.equal(toHex(client.publicKey), S3_CLIENT_PUBLIC);
  const server = generateKeyShare("x25519", fixedRandom([H(S3_SERVER_PRIVATE)]));
  assert.equal(toHex(server.publicKey), S3_SERVER_PUBLIC);
  assert.equal(toHex(client.computeSecret(H(S3_SERVER_PUBLIC))), S3_SHARED);
  assert.equal(toHex(server.computeSecret(H(S3_CLIENT_PUBLIC))), S3_SHARED);
});

test("RFC 8448 section 3: key schedule from the trace's messages", () => {
  const t = new Transcript();
  t.add(H(V.S3_CLIENT_HELLO));
  t.add(H(V.S3_SERVER_HELLO));
  assert.equal(toHex(t.hash(hash)), S3_HASH_CH_SH);

  const ks = new KeySchedule(suite);
  assert.equal(toHex(ks.extractEarly()), S3_EARLY_SECRET);
  assert.equal(toHex(ks.extractHandshake(H(S3_SHARED))), S3_HANDSHAKE_SECRET);
  const hs = ks.handshakeTrafficSecrets(t.hash(hash));
  assert.equal(toHex(hs.client), S3_C_HS_TRAFFIC);
  assert.equal(toHex(hs.server), S3_S_HS_TRAFFIC);
  assert.equal(toHex(trafficKeys(suite, hs.server).key), S3_SERVER_HS_KEY);
  assert.equal(toHex(trafficKeys(suite, hs.server).iv), S3_SERVER_HS_IV);
  assert.equal(toHex(trafficKeys(suite, hs.client).key), S3_CLIENT_HS_KEY);
  assert.equal(toHex(trafficKeys(suite, hs.client).iv), S3_CLIENT_HS_IV);

  t.add(H(V.S3_ENCRYPTED_EXTENSIONS));
  t.add(H(V.S3_CERTIFICATE));
  t.add(H(V.S3_CERTIFICATE_VERIFY));
  assert.equal(toHex(finishedKey(hash, hs.server)), S3_SERVER_FINISHED_KEY);
  const serverVerify = finishedVerifyData(hash, hs.server, t.hash(hash));
  assert.equal(toHex(serverVerify), S3_SERVER_VERIFY_DATA);
  assert.equal(V.S3_SERVER_FINISHED, "14000020" + S3_SERVER_VERIFY_DATA);
  t.add(H(V.S3_SERVER_FINISHED));

  assert.equal(toHex(ks.extractMaster()), S3_MASTER_SECRET);
  assert.equal(toHex(t.hash(hash)), S3_HASH_CH_SF);
  const ap = ks.applicationTrafficSecrets(t.hash(hash));
  assert.equal(toHex(ap.client), S3_C_AP_TRAFFIC);
  assert.equal(toHex(ap.server), S3_S_AP_TRAFFIC);
  assert.equal(toHex(ap.exporter), S3_EXP_MASTER);
  assert.equal(toHex(trafficKeys(suite, ap.server).key), S3_SERVER_AP_KEY);
  assert.equal(toHex(trafficKeys(suite, ap.server).iv), S3_SERVER_AP_IV);
  assert.equal(toHex(trafficKeys(suite, ap.client).key), S3_CLIENT_AP_KEY);
  assert.equal(toHex(trafficKeys(suite, ap.client).iv), S3_CLIENT_AP_IV);

  assert.equal(toHex(finishedKey(hash, hs.client)), S3_CLIENT_FINISHED_KEY);
  assert.equal(toHex(finishedVerifyData(hash, hs.client, t.hash(hash))), S3_CLIENT_VERIFY_DATA);
  t.add(H(V.S3_CLIENT_FINISHED));
  assert.equal(toHex(t.hash(hash)), S3_HASH_CH_CF);
  const rms = ks.resumptionMasterSecret(t.hash(hash));
  assert.equal(toHex(rms), S3_RES_MASTER);
  const nst = decodeNewSessionTicket(body(H(V.S3_NEW_SESSION_TICKET)));
  assert.equal(toHex(nst.nonce), "0000");
  assert.equal(toHex(resumptionPsk(hash, rms, nst.nonce)), S3_RESUMPTION_PSK);
});

test("RFC 8448 section 3: messages decode, ServerHello re-encodes, CertificateVerify verifies", () => {
  const ch = decodeClientHello(body(H(V.S3_CLIENT_HELLO)));
  assert.equal(ch.serverName, "server");
  assert.deepEqual(ch.cipherSuites, [0x1301, 0x1303, 0x1302]);
  assert.equal(toHex(ch.keyShares![0]!.keyExchange), S3_CLIENT_PUBLIC);
  assert.deepEqual(ch.supportedVersions, [0x0304]);
  assert.deepEqual(ch.pskKeyExchangeModes, [1]);

  const sh = decodeServerHello(body(H(V.S3_SERVER_HELLO)));
  assert.equal(sh.isHelloRetryRequest, false);
  assert.equal(sh.cipherSuite, 0x1301);
  assert.equal(toHex(encodeServerHello(sh)), V.S3_SERVER_HELLO);

  const ee = decodeEncryptedExtensions(body(H(V.S3_ENCRYPTED_EXTENSIONS)));
  assert.deepEqual(ee.supportedGroups, [0x1d, 0x17, 0x18, 0x19, 0x100, 0x101, 0x102, 0x103, 0x104]);

  const cert = decodeCertificate(body(H(V.S3_CERTIFICATE)));
  assert.equal(cert.entries.length, 1);
  const cv = decodeCertificateVerify(body(H(V.S3_CERTIFICATE_VERIFY)));
  assert.equal(cv.scheme, 0x0804);
  const t = new Transcript();
  for (const m of [V.S3_CLIENT_HELLO, V.S3_SERVER_HELLO, V.S3_ENCRYPTED_EXTENSIONS, V.S3_CERTIFICATE]) t.add(H(m));
  // RFC 8446 section 4.4.3 content with the server context string, RSA-PSS-SHA256 with the trace's RSA key.
  const scheme = checkCertificateVerify({
    scheme: cv.scheme,
    signature: cv.signature,
    offered: ["rsa_pss_rsae_sha256"],
    publicKey: certificatePublicKey(cert.entries[0]!.data),
    server: true,
    transcriptHash: t.hash(hash),
  });
  assert.equal(scheme, "rsa_pss_rsae_sha256");
  // The same signature must fail over another transcript.
  t.add(H(V.S3_CERTIFICATE_VERIFY));
  assert.throws(
    () =>
      checkCertificateVerify({
        scheme: cv.scheme,
        signature: cv.signature,
        offered: ["rsa_pss_rsae_sha256"],
        publicKey: certificatePublicKey(cert.entries[0]!.data),
        server: true,
        transcriptHash: t.hash(hash),
      }),
    (e: any) => e.alert === 51,
  );
});

const b64u = (hex: string) => Buffer.from(hex, "hex").toString("base64url");

test("RFC 8448 section 3: our server answers the trace's ClientHello with the trace's ServerHello and handshake secrets", () => {
  const key = createPrivateKey({
    key: {
      kty: "RSA",
      n: b64u(V.RSA_KEY.n),
      e: b64u(V.RSA_KEY.e),
      d: b64u(V.RSA_KEY.d),
      p: b64u(V.RSA_KEY.p),
      q: b64u(V.RSA_KEY.q),
      dp: b64u(V.RSA_KEY.dp),
      dq: b64u(V.RSA_KEY.dq),
      qi: b64u(V.RSA_KEY.qi),
    },
    format: "jwk",
  });
  const certDer = decodeCertificate(body(H(V.S3_CERTIFICATE))).entries[0]!.data;
  const serverRandom = decodeServerHello(body(H(V.S3_SERVER_HELLO))).random;
  const server = new TlsServer({
    mode: "tls",
    cert: certDer,
    key,
    random: fixedRandom([serverRandom, H(S3_SERVER_PRIVATE)]),
  });
  server.receive("initial", H(V.S3_CLIENT_HELLO), Date.UTC(2018, 0, 1));
  const events: TlsEvent[] = [];
  for (let e = server.poll(); e; e = server.poll()) events.push(e);
  const first = events[0]!;
  assert.ok(first.type === "data" && first.level === "initial");
  assert.equal(toHex(first.data), V.S3_SERVER_HELLO);
  const secrets = events.filter((e) => e.type === "secret");
  const hsWrite = secrets.find((e) => e.level === "handshake" && e.direction === "write");
  const hsRead = secrets.find((e) => e.level === "handshake" && e.direction === "read");
  assert.equal(toHex(hsWrite!.secret), S3_S_HS_TRAFFIC);
  assert.equal(toHex(hsRead!.secret), S3_C_HS_TRAFFIC);
  const keylog = events.filter((e) => e.type === "keylog").map((e) => e.line);
  const clientRandom = toHex(decodeClientHello(body(H(V.S3_CLIENT_HELLO))).random);
  assert.ok(keylog.includes(`SERVER_HANDSHAKE_TRAFFIC_SECRET ${clientRandom} ${S3_S_HS_TRAFFIC}`));
  assert.ok(keylog.includes(`CLIENT_HANDSHAKE_TRAFFIC_SECRET ${clientRandom} ${S3_C_HS_TRAFFIC}`));
  assert.equal(server.signatureScheme, "rsa_pss_rsae_sha256");
  // The handshake flight starts with EncryptedExtensions and ends with Finished.
  const flight = events.find((e) => e.type === "data" && e.level === "handshake");
  assert.ok(flight && flight.type === "data");
  assert.equal(flight.data[0], HandshakeType.encrypted_extensions);
});

// RFC 8448 section 4 ("Resumed 0-RTT Handshake").
const S4_CLIENT_PRIVATE = "36e14cddb620020dece3fb0369b548f204f5cad77c95b3b4a1c60bd431f0d66e";
const S4_SERVER_PUBLIC = "7abd53026c45bd7be12f6c4db9d226a9b1527a76c825c07722201a314ae90d21";
// "{client} extract secret "early"" with the section 3 resumption PSK.
const S4_EARLY_SECRET = "7926bf246b73dd7cf3aa5a75ec3dc91ae3a234c00565744af51697313a085fff";
// "{client} calculate PSK binder": binder hash, binder_key (PRK), finished key (expanded), binder.
const S4_BINDER_HASH = "6fd17487908d45ca0bb7d5e5a968f94aa43296b3fd578d0c102540c380a23e68";
const S4_BINDER_KEY = "1748d43e9e7001e862d45add841c85fa07bfdc7c68f099ac4f50735dfa29bfbc";
const S4_BINDER_FINISHED_KEY = "99c8c7b09a89cf670164b5710348f9cd51ce53608a6e5ea802e0838d396aed70";
const S4_BINDER = "718cd8f22e8ed71d1a23f7c88f63d45487afe58157cbc57e66bd1323e41a8cd8";
// "derive secret "tls13 c e traffic"" over the whole ClientHello.
const S4_HASH_CH = "d899c67dee77e998f6e881a3b14efe9387b1875dd8638dfbad8df14844e2b766";
const S4_C_E_TRAFFIC = "c4196f87b65585b405a6ed59ba9ca31e468ac9b2c79477d449c559a44407197f";
// "derive write traffic keys for early application data".
const S4_EARLY_KEY = "a9d6c91b8adb612268f7724f0b6cdc75";
const S4_EARLY_IV = "8d52156fb7db01cb290bdef1";
// "{server} extract secret "handshake"": IKM and secret.
const S4_SHARED = "18d56663008e5df98a5c89577de96076e304383265de56ddb61184006bdf8545";
const S4_HANDSHAKE_SECRET = "0a4a82590a96141e59c0f7130049a24facd080d187f62bf606a897b01d75e09b";
// "derive secret "tls13 c hs traffic"" / "s hs traffic".
const S4_C_HS_TRAFFIC = "74739327edf99fadd88155fc8e9817a15ef1a3c5091c968bdf4a46201f6eecd8";
const S4_S_HS_TRAFFIC = "147abd48f114534ec0d6db3c8de5145aa90f668f8777fd373601bfe93be4c96e";
// "{server} extract secret "master"".
const S4_MASTER_SECRET = "28bb7690352d2f3ce4ddab8351ede1220cd6b15a52a3dbd687963c11b0a24539";
// "derive secret "tls13 c ap traffic"" / "s ap traffic".
const S4_C_AP_TRAFFIC = "88fd0f44d5aaf631b161f43ba070884bce5f29151cb9c7ace17a9ce5cd0bb8f0";
const S4_S_AP_TRAFFIC = "67a047ad76e8db768134f62b98cdabbfd6bcf1232b898a313045881bdc72cdbb";
// "{client} calculate finished "tls13 finished"" (the transcript includes EndOfEarlyData).
const S4_CLIENT_VERIFY_DATA = "45d58949c2c20030c87ff17660c70cfe7160de345672142f709a8f8e31cb6096";
// "derive secret "tls13 res master"".
const S4_RES_MASTER = "899a395435cfc82589e72646e244fb4fd8a3987395c2e6ad1d148ccaa48823e2";

test("RFC 8448 section 4: PSK binder, early secrets and the resumed key schedule", () => {
  const ch = H(V.S4_CLIENT_HELLO);
  const decoded = decodeClientHello(body(ch));
  assert.ok(decoded.pskIsLast && decoded.earlyData);
  // Truncate(ClientHello) drops exactly the binders list (RFC 8446 section 4.2.11.2).
  const truncated = ch.subarray(0, ch.length - bindersLength(decoded.preSharedKey!));
  assert.equal(toHex(truncated), V.S4_CLIENT_HELLO_PREFIX);

  const ks = new KeySchedule(suite);
  assert.equal(toHex(ks.extractEarly(H(S3_RESUMPTION_PSK))), S4_EARLY_SECRET);
  const binderKey = ks.binderKey(true);
  assert.equal(toHex(binderKey), S4_BINDER_KEY);
  assert.equal(toHex(finishedKey(hash, binderKey)), S4_BINDER_FINISHED_KEY);
  const t = new Transcript();
  assert.equal(toHex(t.hash(hash, truncated)), S4_BINDER_HASH);
  const binder = finishedVerifyData(hash, binderKey, t.hash(hash, truncated));
  assert.equal(toHex(binder), S4_BINDER);
  assert.equal(toHex(decoded.preSharedKey!.binders[0]!), S4_BINDER);

  t.add(ch);
  assert.equal(toHex(t.hash(hash)), S4_HASH_CH);
  const early = ks.clientEarlyTrafficSecret(t.hash(hash));
  assert.equal(toHex(early), S4_C_E_TRAFFIC);
  assert.equal(toHex(trafficKeys(suite, early).key), S4_EARLY_KEY);
  assert.equal(toHex(trafficKeys(suite, early).iv), S4_EARLY_IV);

  const sh = decodeServerHello(body(H(V.S4_SERVER_HELLO)));
  assert.equal(sh.selectedIdentity, 0);
  const share = generateKeyShare("x25519", fixedRandom([H(S4_CLIENT_PRIVATE)]));
  assert.equal(toHex(share.computeSecret(H(S4_SERVER_PUBLIC))), S4_SHARED);
  t.add(H(V.S4_SERVER_HELLO));
  assert.equal(toHex(ks.extractHandshake(H(S4_SHARED))), S4_HANDSHAKE_SECRET);
  const hs = ks.handshakeTrafficSecrets(t.hash(hash));
  assert.equal(toHex(hs.client), S4_C_HS_TRAFFIC);
  assert.equal(toHex(hs.server), S4_S_HS_TRAFFIC);
  const ee = decodeEncryptedExtensions(body(H(V.S4_ENCRYPTED_EXTENSIONS)));
  assert.equal(ee.earlyData, true);
  t.add(H(V.S4_ENCRYPTED_EXTENSIONS));
  assert.equal(toHex(finishedVerifyData(hash, hs.server, t.hash(hash))), V.S4_SERVER_FINISHED.slice(8));
  t.add(H(V.S4_SERVER_FINISHED));
  assert.equal(toHex(ks.extractMaster()), S4_MASTER_SECRET);
  const ap = ks.applicationTrafficSecrets(t.hash(hash));
  assert.equal(toHex(ap.client), S4_C_AP_TRAFFIC);
  assert.equal(toHex(ap.server), S4_S_AP_TRAFFIC);
  t.add(H("05000000")); // EndOfEarlyData (TLS over TCP; QUIC omits it, RFC 9001 section 8.3)
  const clientVerify = finishedVerifyData(hash, hs.client, t.hash(hash));
  assert.equal(toHex(clientVerify), S4_CLIENT_VERIFY_DATA);
  t.add(H("14000020" + S4_CLIENT_VERIFY_DATA));
  assert.equal(toHex(ks.resumptionMasterSecret(t.hash(hash))), S4_RES_MASTER);
});
