// Micro-benchmark of QUIC packet protection: µs per 1200-byte 1-RTT packet
// for protect and unprotect with each cipher suite, plus header parsing and
// header protection alone. Not part of the tests.
//
//   npx tsc -p . && node dist/bench/packet-protect.js [iterations]
import { randomBytes } from "node:crypto";
import { CIPHER_SUITES } from "../src/crypto/suites.js";
import {
  HeaderProtectionBatch,
  PacketProtection,
  parsePacketHeader,
  QUIC_V1,
  UnprotectedPacket,
  writeShortHeader,
} from "../src/quic/packet/index.js";

const N = Number(process.argv[2] ?? 100_000);
const PACKET_SIZE = 1200;
const DCID = new Uint8Array(randomBytes(8));

function time(label: string, iterations: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / iterations;
  console.log(`${label.padEnd(48)} ${us.toFixed(3)} µs`);
  return us;
}

for (const suite of CIPHER_SUITES) {
  const secret = new Uint8Array(randomBytes(suite.hashLength));
  const sender = PacketProtection.fromSecret(suite, secret, QUIC_V1);
  const receiver = PacketProtection.fromSecret(suite, secret, QUIC_V1);
  const buf = new Uint8Array(1500);
  const pnLength = 2;
  const pnOffset = writeShortHeader(buf, 0, DCID, 1000, pnLength, 0);
  const payloadEnd = PACKET_SIZE - 16;
  buf.fill(0, pnOffset + pnLength, payloadEnd);

  time(`${suite.name} protect (1200 B)`, N, (i) => {
    sender.protect(buf, 0, pnOffset, pnLength, payloadEnd, 1000 + i);
  });

  // A sender's burst: header protection of 32 packets applied in one go (the driver's batching).
  const burst = 32;
  const batch = new HeaderProtectionBatch();
  const bufs = Array.from({ length: burst }, () => new Uint8Array(1500));
  for (const b of bufs) writeShortHeader(b, 0, DCID, 1000, pnLength, 0);
  time(`${suite.name} protect, batched header protection`, N, (i) => {
    sender.protectDeferred(bufs[i % burst]!, 0, pnOffset, pnLength, payloadEnd, 1000 + i, batch);
    if (batch.pending === burst) batch.flush();
  });

  // One protected template; each round copies it in (about 0.05 µs) and opens it.
  writeShortHeader(buf, 0, DCID, 5000, pnLength, 0);
  buf.fill(0, pnOffset + pnLength, payloadEnd);
  const end = sender.protect(buf, 0, pnOffset, pnLength, payloadEnd, 5000);
  const template = buf.slice(0, end);
  const out = new UnprotectedPacket();
  time(`${suite.name} unprotect (1200 B, incl. copy)`, N, () => {
    buf.set(template);
    receiver.unprotect(buf, 0, pnOffset, end, 4999, out);
  });
  time(`${suite.name} header protection mask only`, N * 5, () => {
    receiver.headerProtection.mask(template, pnOffset + 4);
  });
}

const sample = new Uint8Array(PACKET_SIZE);
writeShortHeader(sample, 0, DCID, 1, 2, 0);
time("parsePacketHeader (short header)", N * 5, () => {
  parsePacketHeader(sample, 0, PACKET_SIZE, 8);
});
