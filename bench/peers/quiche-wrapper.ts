// @ts-nocheck -- @matrixai/quic is installed only for the benchmark (scripts/setup-bench.sh); without it the project must still compile.
// @matrixai/quic's own QUICServer / QUICClient (quiche underneath, web
// streams and events on top), for the raw-QUIC upload: tsquic's client
// against this server, and this client against it as the reference. Speaks
// the `U <n>` request of lib/child.ts.
//
// Modes: server (prints {"ready":true,"port":N}), upload.
import { createHmac, randomFillSync, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { QUICClient, QUICServer, events } from "@matrixai/quic";
import Logger, { LogLevel } from "@matrixai/logger";
import { childConfig, emit, emitResult, fail, now, onCommand, requestLine, RequestParser } from "../lib/child.js";

/** Settings given by the orchestrator. */
interface WrapperConfig {
  mode: "server" | "upload";
  alpn: string;
  port?: number;
  cert?: string;
  key?: string;
  bytes?: number;
  maxUdpPayloadSize?: number;
  timeoutMs?: number;
}

const cfg = childConfig<WrapperConfig>();
const quietLogger = (): Logger => new Logger("bench", LogLevel.WARN);
const common = {
  applicationProtos: [cfg.alpn],
  maxSendUdpPayloadSize: cfg.maxUdpPayloadSize ?? 1200,
  maxIdleTimeout: 30_000,
  // Larger reads than the 4 KiB default: fewer promise round trips per byte.
  readableChunkSize: 64 * 1024,
};

function hmac(key: ArrayBuffer, data: ArrayBuffer): Buffer {
  return createHmac("sha256", Buffer.from(key)).update(Buffer.from(data)).digest();
}

async function server(): Promise<void> {
  const s = new QUICServer({
    // Retry tokens are signed with an HMAC key (the server always validates addresses).
    crypto: {
      key: randomFillSync(new Uint8Array(32)).buffer,
      ops: {
        async sign(key, data) {
          return new Uint8Array(hmac(key, data)).buffer;
        },
        async verify(key, data, sig) {
          const d = hmac(key, data);
          return sig.byteLength === d.byteLength && timingSafeEqual(d, Buffer.from(sig));
        },
      },
    },
    config: { ...common, key: readFileSync(cfg.key!, "utf8"), cert: readFileSync(cfg.cert!, "utf8") },
    logger: quietLogger(),
  });
  s.addEventListener(events.EventQUICServerConnection.name, (evt) => {
    const conn = (evt as events.EventQUICServerConnection).detail;
    conn.addEventListener(events.EventQUICConnectionError.name, () => {});
    conn.addEventListener(events.EventQUICConnectionStream.name, (e) => {
      const stream = (e as events.EventQUICConnectionStream).detail;
      void (async () => {
        const parser = new RequestParser();
        let got = 0;
        const reader = stream.readable.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          got += parser.push(value).length;
          if (parser.request && got >= parser.request.n) break;
        }
        const writer = stream.writable.getWriter();
        await writer.write(new TextEncoder().encode(String(got)));
        await writer.close();
      })().catch(() => {});
    });
  });
  await s.start({ host: "127.0.0.1", port: cfg.port ?? 0 });
  onCommand(() => {});
  emit({ ready: true, port: s.port });
}

async function upload(): Promise<void> {
  const total = cfg.bytes!;
  const t0 = now();
  const client = await QUICClient.createQUICClient({
    host: "127.0.0.1",
    port: cfg.port!,
    localHost: "127.0.0.1",
    crypto: { ops: { randomBytes: async (b: ArrayBuffer) => void randomFillSync(new Uint8Array(b)) } },
    config: { ...common, verifyPeer: false },
    logger: quietLogger(),
  });
  const tHandshake = now();
  const stream = client.connection.newStream();
  const writer = stream.writable.getWriter();
  await writer.write(requestLine("U", total));
  const chunk = new Uint8Array(256 * 1024);
  for (let left = total; left > 0; ) {
    const n = Math.min(chunk.length, left);
    await writer.write(n === chunk.length ? chunk : chunk.subarray(0, n));
    left -= n;
  }
  await writer.close();
  const reader = stream.readable.getReader();
  let reply = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    reply += new TextDecoder().decode(value);
  }
  const seconds = (now() - t0) / 1000;
  if (reply !== String(total)) throw new Error(`server counted ${reply}, expected ${total}`);
  emitResult({ bytes: total, seconds, gbps: (total * 8) / seconds / 1e9, handshakeMs: tHandshake - t0 });
  await client.destroy({ force: true });
  process.exit(0);
}

try {
  if (cfg.timeoutMs) setTimeout(() => fail(new Error(`${cfg.mode} did not finish within ${cfg.timeoutMs} ms`)), cfg.timeoutMs).unref();
  if (cfg.mode === "server") await server();
  else await upload();
} catch (e) {
  fail(e);
}
