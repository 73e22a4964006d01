// tsquic raw QUIC server for the benchmarks: speaks the request-line
// protocol of lib/child.ts on every stream (download, upload, echo).
// Prints {"ready":true,"port":N} once bound. With "memory": true it answers
// the stdin command "measure" with process.memoryUsage() after a full GC
// (run node with --expose-gc) and the number of live connections.
//
//   node dist/bench/peers/tsquic-server.js --config '{"cert":"...","key":"...","alpn":"tsquic-bench"}'
import { readFileSync } from "node:fs";
import { listen, type QuicStream } from "../../src/index.js";
import { childConfig, emit, fail, onCommand, RequestParser } from "../lib/child.js";

/** Settings given by the orchestrator. */
interface ServerConfig {
  cert: string;
  key: string;
  alpn: string;
  port?: number;
  maxUdpPayloadSize?: number;
  /** Idle timeout in ms (0 disables it, for the memory benchmark). */
  idleTimeout?: number;
  maxConnections?: number;
  memory?: boolean;
}

/** Per-stream state, kept in the stream's local `data`. */
interface StreamState {
  parser: RequestParser;
  /** Download: bytes still to write. Upload and echo: bytes still expected. */
  remaining: number;
}

const cfg = childConfig<ServerConfig>();
// One shared, never-modified chunk: tsquic's write() keeps a reference until acknowledged, so reuse is safe.
const CHUNK = new Uint8Array(256 * 1024);

/** Writes download bytes until the stream pushes back; `drain` calls it again. */
function pump(stream: QuicStream<StreamState>): void {
  const st = stream.data!;
  while (st.remaining > 0) {
    const n = Math.min(CHUNK.length, st.remaining);
    st.remaining -= n;
    const chunk = n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n);
    if (st.remaining === 0) {
      stream.end(chunk);
      return;
    }
    if (!stream.write(chunk)) return;
  }
}

function onData(stream: QuicStream<StreamState>, buffer: Uint8Array): void {
  stream.data ??= { parser: new RequestParser(), remaining: -1 };
  const st = stream.data;
  const rest = st.parser.push(buffer);
  const req = st.parser.request;
  if (!req) return;
  if (st.remaining < 0) {
    st.remaining = req.n;
    if (req.kind === "D") {
      pump(stream);
      return;
    }
    if (req.n === 0) {
      stream.end(req.kind === "U" ? "0" : undefined);
      return;
    }
  }
  if (req.kind === "D" || rest.length === 0) return;
  st.remaining -= rest.length;
  if (req.kind === "E") {
    // Echoed data is referenced until acknowledged; the receive buffer may be reused, so copy it.
    if (st.remaining <= 0) stream.end(rest.slice());
    else stream.write(rest.slice());
  } else if (st.remaining <= 0) {
    stream.end(String(req.n));
  }
}

try {
  const server = listen<StreamState>({
    hostname: "127.0.0.1",
    port: cfg.port ?? 0,
    alpn: cfg.alpn,
    quic: { cert: readFileSync(cfg.cert, "utf8"), key: readFileSync(cfg.key, "utf8") },
    ...(cfg.maxUdpPayloadSize ? { maxUdpPayloadSize: cfg.maxUdpPayloadSize } : {}),
    ...(cfg.maxConnections ? { maxConnections: cfg.maxConnections } : {}),
    ...(cfg.idleTimeout !== undefined ? { transport: { maxIdleTimeout: cfg.idleTimeout } } : {}),
    stream: {
      data: onData,
      drain: (s) => {
        if (s.data?.parser.request?.kind === "D") pump(s);
      },
      error: () => {},
    },
    error: () => {},
  });
  await server.ready;
  if (cfg.memory) {
    onCommand((command) => {
      if (command !== "measure") return;
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      emit({ memory: process.memoryUsage(), connections: server.connections, gc: gc !== undefined });
    });
  } else {
    // Exit when the orchestrator goes away, even if it could not signal us.
    onCommand(() => {});
  }
  emit({ ready: true, port: server.port });
} catch (e) {
  fail(e);
}
