// The ceiling node:crypto puts on any JavaScript QUIC stack: AES-128-GCM
// seal of one packet through createCipheriv (a new cipher per packet, as
// the API requires for a new nonce), on one core. Gbit/s = packet bits /
// seal time. Prints {"result":{...}}.
import { createCipheriv, randomBytes } from "node:crypto";
import { childConfig, emit, fail } from "../lib/child.js";

/** Settings given by the orchestrator. */
interface CeilingConfig {
  /** Packet sizes to seal (bytes, including the 16-byte tag). */
  sizes: number[];
  /** Measured time per size, ms. */
  durationMs: number;
}

const cfg = childConfig<CeilingConfig>();
const key = randomBytes(16);
const iv = randomBytes(12);
const header = randomBytes(20);

/** µs per seal of a `size`-byte packet (header as AAD, payload sealed, tag appended). */
function sealMicros(size: number, durationMs: number): number {
  const payload = randomBytes(size - header.length - 16);
  const nonce = Buffer.from(iv);
  const seal = (pn: number): void => {
    nonce.writeUInt32BE((iv.readUInt32BE(8) ^ pn) >>> 0, 8);
    const c = createCipheriv("aes-128-gcm", key, nonce);
    c.setAAD(header);
    c.update(payload);
    c.final();
    c.getAuthTag();
  };
  for (let i = 0; i < 20_000; i++) seal(i); // warm-up
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < durationMs) {
    for (let i = 0; i < 1000; i++) seal(n++);
    t = performance.now();
  }
  return ((t - t0) * 1000) / n;
}

try {
  const results = cfg.sizes.map((size) => {
    const us = sealMicros(size, cfg.durationMs);
    return { size, sealMicros: us, gbps: (size * 8) / us / 1000 };
  });
  emit({ result: { results } });
} catch (e) {
  fail(e);
}
