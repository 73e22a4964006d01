// @ts-nocheck -- @matrixai/quic is installed only for the benchmark (scripts/setup-bench.sh); without it the project must still compile.
// quiche (Cloudflare's Rust QUIC, through @matrixai/quic's napi binding)
// driven by a minimal JavaScript loop over node:dgram: the reference for
// raw QUIC. @matrixai/quic's own QUICClient/QUICServer wrap every packet in
// events, abort signals and promises (see quiche-wrapper.ts), which would
// measure that wrapper rather than quiche; this driver keeps the JavaScript
// per packet to a recv() or send() call and a dgram send, as tsquic's
// driver does. Speaks the request-line protocol of lib/child.ts.
//
// Modes: server (prints {"ready":true,"port":N}); upload, download,
// handshakes and ttfb clients, as in tsquic-client.ts.
import dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { quiche, type Config, type Connection } from "@matrixai/quic/native/index.js";
import { childConfig, emit, emitResult, fail, median, now, onCommand, percentile, requestLine, RequestParser } from "../lib/child.js";

/** Settings given by the orchestrator. */
interface LeanConfig {
  mode: "server" | "upload" | "download" | "handshakes" | "ttfb";
  alpn: string;
  port?: number;
  cert?: string;
  key?: string;
  bytes?: number;
  maxUdpPayloadSize?: number;
  durationMs?: number;
  concurrency?: number;
  count?: number;
  timeoutMs?: number;
}

const cfg = childConfig<LeanConfig>();
/** Our connection IDs are this long, so a short header's DCID can be sliced without state. */
const CID_LEN = 20;
const LOCAL = "127.0.0.1";
const encoder = new TextEncoder();
// Never modified: quiche copies what streamSend accepts.
const ZEROS = new Uint8Array(256 * 1024);
const RECV_BUF = new Uint8Array(16 * 1024);

function makeConfig(server: boolean): Config {
  const pem = (p: string | undefined): Uint8Array[] | undefined => (p ? [encoder.encode(readFileSync(p, "utf8"))] : undefined);
  const c = quiche.Config.withBoringSslCtx(false, false, undefined, server ? pem(cfg.key) : undefined, server ? pem(cfg.cert) : undefined, undefined);
  c.setApplicationProtos([cfg.alpn]);
  c.setMaxIdleTimeout(30_000);
  c.setMaxRecvUdpPayloadSize(65527);
  c.setMaxSendUdpPayloadSize(cfg.maxUdpPayloadSize ?? 1200);
  // Windows as @matrixai/quic's defaults (10 MiB connection, 1 MiB per stream, auto-tuned up).
  c.setInitialMaxData(10 * 1024 * 1024);
  c.setInitialMaxStreamDataBidiLocal(1024 * 1024);
  c.setInitialMaxStreamDataBidiRemote(1024 * 1024);
  c.setInitialMaxStreamDataUni(1024 * 1024);
  c.setInitialMaxStreamsBidi(100);
  c.setInitialMaxStreamsUni(100);
  c.setMaxConnectionWindow(quiche.MAX_CONNECTION_WINDOW);
  c.setMaxStreamWindow(quiche.MAX_STREAM_WINDOW);
  c.setDisableActiveMigration(true);
  return c;
}

/** Bytes queued for one stream: a request line then `remaining` zero bytes, then FIN. */
interface Outgoing {
  head: Uint8Array;
  remaining: number;
}

/** One quiche connection and what the driver needs to know about it. */
class LeanConn {
  readonly q: Connection;
  readonly peer: { host: string; port: number };
  readonly outgoing = new Map<number, Outgoing>();
  readonly parsers = new Map<number, RequestParser>();
  /** Bytes still expected per stream for uploads and echoes (server side). */
  readonly expect = new Map<number, number>();
  timer: NodeJS.Timeout | undefined;
  established = false;
  /** Streams that may have data to read. The benchmark's streams are all client-initiated bidirectional ones. */
  readonly known = new Set<number>();
  /** The next client-initiated bidirectional stream the peer may open (server side). */
  nextPeerStream: number;
  onEstablished: (() => void) | undefined;
  onData: ((streamId: number, bytes: Uint8Array) => void) | undefined;
  constructor(q: Connection, peer: { host: string; port: number }, server: boolean) {
    this.q = q;
    this.peer = peer;
    // A client reads only the stream it opened (added to `known` when it writes); a server discovers the client's streams in order.
    this.nextPeerStream = server ? 0 : Number.MAX_SAFE_INTEGER;
  }
}

/** A UDP socket and the quiche connections behind it, keyed by our connection ID. */
class LeanEndpoint {
  readonly socket: dgram.Socket;
  readonly conns = new Map<string, LeanConn>();
  private readonly dirty = new Set<LeanConn>();
  private flushing = false;
  port = 0;
  private readonly config: Config;
  private readonly server: boolean;

  constructor(server: boolean) {
    this.server = server;
    this.config = makeConfig(server);
    this.socket = dgram.createSocket("udp4");
    this.socket.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on("error", () => {});
  }

  async bind(port: number): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(port, LOCAL, () => r()));
    this.port = this.socket.address().port;
    // Bursts of a whole congestion window overflow the default receive buffer; the kernel caps these at rmem_max / wmem_max.
    try {
      this.socket.setRecvBufferSize(4 * 1024 * 1024);
      this.socket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      // A hint only.
    }
  }

  connect(port: number): LeanConn {
    const scid = randomBytes(CID_LEN);
    const peer = { host: LOCAL, port };
    const c = new LeanConn(quiche.Connection.connect("localhost", scid, { host: LOCAL, port: this.port }, peer, this.config), peer, false);
    this.conns.set(scid.toString("latin1"), c);
    this.touch(c);
    return c;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let dcid: Uint8Array;
    let initial = false;
    try {
      const h = quiche.Header.fromSlice(msg, CID_LEN);
      dcid = h.dcid;
      initial = h.ty === quiche.Type.Initial;
    } catch {
      return;
    }
    const key = Buffer.from(dcid.buffer, dcid.byteOffset, dcid.byteLength).toString("latin1");
    let c = this.conns.get(key);
    if (!c) {
      if (!this.server || !initial) return;
      const scid = randomBytes(CID_LEN);
      const peer = { host: rinfo.address, port: rinfo.port };
      c = new LeanConn(quiche.Connection.accept(scid, undefined, { host: LOCAL, port: this.port }, peer, this.config), peer, true);
      this.conns.set(scid.toString("latin1"), c);
      this.conns.set(key, c);
      serveConnection(c);
    }
    try {
      c.q.recv(msg, { from: c.peer, to: { host: LOCAL, port: this.port } });
    } catch {
      // A packet quiche rejects is dropped, as a real driver would.
    }
    if (!c.established && c.q.isEstablished()) {
      c.established = true;
      c.onEstablished?.();
    }
    // quiche's readable() iterator costs over 10 µs per call through napi; probing the streams we know is far cheaper.
    while (c.q.streamReadable(c.nextPeerStream)) {
      c.known.add(c.nextPeerStream);
      c.nextPeerStream += 4;
    }
    for (const id of c.known) {
      if (!c.q.streamReadable(id)) continue;
      for (;;) {
        const r = c.q.streamRecv(id, RECV_BUF);
        if (r === null) break;
        if (r[0] > 0) c.onData?.(id, RECV_BUF.subarray(0, r[0]));
        if (r[1]) {
          c.known.delete(id);
          break;
        }
      }
    }
    this.touch(c);
  }

  touch(c: LeanConn): void {
    this.dirty.add(c);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushing = false;
    const list = [...this.dirty];
    this.dirty.clear();
    for (const c of list) this.flushConn(c);
  }

  private flushConn(c: LeanConn): void {
    for (const [id, o] of c.outgoing) {
      if (o.head.length > 0) {
        const n = c.q.streamSend(id, o.head, o.remaining === 0);
        if (n === null) continue;
        o.head = o.head.subarray(n);
        if (o.head.length > 0) continue;
        if (o.remaining === 0) {
          c.outgoing.delete(id);
          continue;
        }
      }
      while (o.remaining > 0) {
        const len = Math.min(ZEROS.length, o.remaining);
        const n = c.q.streamSend(id, ZEROS.subarray(0, len), o.remaining === len);
        if (n === null || n === 0) break;
        o.remaining -= n;
      }
      if (o.remaining === 0) c.outgoing.delete(id);
    }
    let sent = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1500);
      const r = c.q.send(buf);
      if (r === null) break;
      this.socket.send(buf.subarray(0, r[0]), r[1].to.port, r[1].to.host);
      // Yield now and then so acknowledgements are read while a big window drains.
      if (++sent >= 256) {
        this.touch(c);
        break;
      }
    }
    this.armTimer(c);
  }

  private armTimer(c: LeanConn): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = undefined;
    if (c.q.isClosed()) {
      this.forget(c);
      return;
    }
    const t = c.q.timeout();
    if (t === null) return;
    c.timer = setTimeout(() => {
      c.timer = undefined;
      c.q.onTimeout();
      if (c.q.isClosed()) this.forget(c);
      else this.touch(c);
    }, t);
  }

  private forget(c: LeanConn): void {
    for (const [k, v] of this.conns) if (v === c) this.conns.delete(k);
  }

  close(): void {
    for (const c of this.conns.values()) if (c.timer) clearTimeout(c.timer);
    this.socket.close();
  }
}

let endpoint: LeanEndpoint;

/** Server side of the request-line protocol. */
function serveConnection(c: LeanConn): void {
  c.onData = (id, bytes) => {
    let p = c.parsers.get(id);
    if (!p) c.parsers.set(id, (p = new RequestParser()));
    const rest = p.push(bytes);
    const req = p.request;
    if (!req) return;
    if (!c.expect.has(id)) {
      c.expect.set(id, req.n);
      if (req.kind === "D") c.outgoing.set(id, { head: new Uint8Array(0), remaining: req.n });
      else if (req.n === 0) c.outgoing.set(id, { head: req.kind === "U" ? encoder.encode("0") : new Uint8Array(0), remaining: 0 });
    }
    if (req.kind === "D" || rest.length === 0) return;
    const left = c.expect.get(id)! - rest.length;
    c.expect.set(id, left);
    if (req.kind === "E") c.q.streamSend(id, rest, left <= 0);
    else if (left <= 0) c.outgoing.set(id, { head: encoder.encode(String(req.n)), remaining: 0 });
  };
}

/** Opens a connection and resolves once established. */
function open(onData: (id: number, bytes: Uint8Array) => void): Promise<LeanConn> {
  const c = endpoint.connect(cfg.port!);
  c.onData = onData;
  return new Promise((resolve) => (c.onEstablished = () => resolve(c)));
}

function closeConn(c: LeanConn): void {
  c.q.close(true, 0, new Uint8Array(0));
  endpoint.touch(c);
}

async function transfer(kind: "U" | "D"): Promise<Record<string, unknown>> {
  const total = cfg.bytes!;
  let got = 0;
  let reply = "";
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = now();
  const c = await open((_id, bytes) => {
    if (kind === "D") {
      got += bytes.length;
      if (got >= total) done();
    } else {
      reply += new TextDecoder().decode(bytes);
      if (reply === String(total)) done();
    }
  });
  const tHandshake = now();
  c.known.add(0);
  c.outgoing.set(0, kind === "U" ? { head: requestLine("U", total), remaining: total } : { head: requestLine("D", total), remaining: 0 });
  endpoint.touch(c);
  await finished;
  const seconds = (now() - t0) / 1000;
  const stats = c.q.stats();
  closeConn(c);
  return { bytes: total, seconds, gbps: (total * 8) / seconds / 1e9, handshakeMs: tHandshake - t0, stats: { lost: stats.lost, sent: stats.sent, recv: stats.recv } };
}

async function echoOnce(): Promise<{ ttfbMs: number; handshakeMs: number }> {
  const t0 = now();
  let first!: () => void;
  const echoed = new Promise<void>((r) => (first = r));
  const c = await open(() => first());
  const tHandshake = now();
  c.known.add(0);
  c.outgoing.set(0, { head: new Uint8Array([...requestLine("E", 1), 120]), remaining: 0 });
  endpoint.touch(c);
  await echoed;
  const t1 = now();
  closeConn(c);
  return { ttfbMs: t1 - t0, handshakeMs: tHandshake - t0 };
}

async function handshakes(): Promise<Record<string, unknown>> {
  const end = now() + cfg.durationMs!;
  let completed = 0;
  const t0 = now();
  const loop = async (): Promise<void> => {
    while (now() < end) {
      await echoOnce();
      completed++;
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency ?? 8 }, loop));
  const seconds = (now() - t0) / 1000;
  return { completed, failed: 0, seconds, perSecond: completed / seconds, concurrency: cfg.concurrency ?? 8 };
}

async function ttfb(): Promise<Record<string, unknown>> {
  await echoOnce(); // warm-up, unmeasured
  const samples: number[] = [];
  const hs: number[] = [];
  for (let i = 0; i < cfg.count!; i++) {
    const r = await echoOnce();
    samples.push(r.ttfbMs);
    hs.push(r.handshakeMs);
  }
  return { samples, medianMs: median(samples), p90Ms: percentile(samples, 90), medianHandshakeMs: median(hs) };
}

try {
  if (cfg.timeoutMs) setTimeout(() => fail(new Error(`${cfg.mode} did not finish within ${cfg.timeoutMs} ms`)), cfg.timeoutMs).unref();
  endpoint = new LeanEndpoint(cfg.mode === "server");
  if (cfg.mode === "server") {
    await endpoint.bind(cfg.port ?? 0);
    onCommand(() => {});
    emit({ ready: true, port: endpoint.port });
  } else {
    await endpoint.bind(0);
    const result =
      cfg.mode === "upload" ? await transfer("U") : cfg.mode === "download" ? await transfer("D") : cfg.mode === "handshakes" ? await handshakes() : await ttfb();
    emitResult(result);
    setTimeout(() => {
      endpoint.close();
      process.exit(0);
    }, 100);
  }
} catch (e) {
  fail(e);
}
