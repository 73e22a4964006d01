import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { H3Agent } from "../h3/fetch.js";
import { getHq } from "../hq/client.js";
import { keylogToFile } from "../driver/keylog-file.js";
import { ProgressDisplay, formatBytes } from "./progress.js";
import { durationOption } from "./args.js";

const USAGE =
  "usage: tsquic get URL... [--output DIR] [--ca FILE | --insecure] [--alpn h3|hq-interop] [--keylog FILE] [--qlog-dir DIR] [--max-udp-payload N]" +
  " [--handshake-timeout SECONDS] [--initial-rtt MS] [--session-file FILE] [--disable-early-data] [--ciphers LIST] [--key-update]";

/** Outcome of one URL. */
interface Outcome {
  url: string;
  ok: boolean;
  bytes: number;
  detail: string;
}

/**
 * `tsquic get`: downloads URLs over one connection per origin with the
 * requests in parallel, writes the files under --output (or discards them),
 * shows progress on a terminal, and exits 0 only when every file arrived
 * complete.
 */
export async function runGet(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      ca: { type: "string" },
      insecure: { type: "boolean", short: "k" },
      alpn: { type: "string", default: "h3" },
      keylog: { type: "string" },
      "qlog-dir": { type: "string" },
      "server-name": { type: "string" },
      "max-udp-payload": { type: "string" },
      "handshake-timeout": { type: "string" },
      "initial-rtt": { type: "string" },
      "session-file": { type: "string" },
      "disable-early-data": { type: "boolean" },
      ciphers: { type: "string" },
      "key-update": { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
    },
  });
  if (positionals.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (values.alpn !== "h3" && values.alpn !== "hq-interop") {
    process.stderr.write(`tsquic get: --alpn must be h3 or hq-interop\n`);
    return 2;
  }
  if (!values.ca && !values.insecure) {
    process.stderr.write("tsquic get: --ca FILE or --insecure is required (the server's certificate must be verified or explicitly not)\n");
    return 2;
  }
  if (values.alpn !== "h3" && (values["session-file"] || values.ciphers || values["key-update"])) {
    process.stderr.write("tsquic get: --session-file, --ciphers and --key-update work with --alpn h3 only\n");
    return 2;
  }
  const urls = positionals.map((u) => new URL(u));
  const ca = values.ca ? readFileSync(values.ca) : undefined;
  // SSLKEYLOGFILE is the variable browsers and curl honour for the same purpose.
  const keylogPath = values.keylog ?? process.env.SSLKEYLOGFILE;
  const keylog = keylogPath ? keylogToFile(keylogPath) : undefined;
  const maxUdp = values["max-udp-payload"] ? Number(values["max-udp-payload"]) : undefined;
  const handshakeTimeout = durationOption("tsquic get", "handshake-timeout", values["handshake-timeout"], "seconds");
  const initialRtt = durationOption("tsquic get", "initial-rtt", values["initial-rtt"], "milliseconds");
  // What both clients (HTTP/3 and hq-interop) take alike.
  const connection: ConnectionOptions = {
    ...(keylog ? { keylog } : {}),
    ...(values["qlog-dir"] ? { qlog: values["qlog-dir"] } : {}),
    ...(maxUdp ? { maxUdpPayloadSize: maxUdp } : {}),
    ...(handshakeTimeout ? { handshakeTimeout } : {}),
    ...(initialRtt ? { initialRtt } : {}),
  };
  if (values.output) mkdirSync(values.output, { recursive: true });
  const progress = new ProgressDisplay();
  const base = { ca, insecure: !!values.insecure, connection, output: values.output, serverName: values["server-name"], progress };
  const outcomes =
    values.alpn === "h3"
      ? await getH3(urls, {
          ...base,
          sessionFile: values["session-file"],
          earlyData: !values["disable-early-data"],
          ciphers: values.ciphers,
          keyUpdate: !!values["key-update"],
        })
      : await getHqAll(urls, base);
  progress.finish();
  let failed = 0;
  for (const o of outcomes) {
    if (!o.ok) failed++;
    // Quiet when piped: only failures are reported then.
    if (!o.ok || (!values.quiet && process.stderr.isTTY)) process.stderr.write(`${o.ok ? "ok  " : "FAIL"} ${o.url} ${formatBytes(o.bytes)} ${o.detail}\n`);
  }
  return failed === 0 ? 0 : 1;
}

/** Connection settings from the command line, in the form both clients take. */
interface ConnectionOptions {
  keylog?: (line: string) => void;
  /** Directory for qlog files. */
  qlog?: string;
  maxUdpPayloadSize?: number;
  /** Give up on a handshake after this many ms (default 10 s). */
  handshakeTimeout?: number;
  /** RTT assumed before the first sample, ms (default 333). */
  initialRtt?: number;
}

interface GetOptions {
  ca: Buffer | undefined;
  insecure: boolean;
  connection: ConnectionOptions;
  output: string | undefined;
  serverName: string | undefined;
  progress: ProgressDisplay;
}

/** What only the HTTP/3 client does. */
interface H3GetOptions extends GetOptions {
  /** Load the session to resume from this file (when it exists) and save the new one there. */
  sessionFile: string | undefined;
  /** Send the GETs in 0-RTT when the session allows it. */
  earlyData: boolean;
  ciphers: string | undefined;
  /** Start a key update once the handshake is confirmed (RFC 9001 section 6), as ngtcp2's client does. */
  keyUpdate: boolean;
}

/** The file a URL is saved to: its last path segment (or index.html), under the output directory. */
function outputPath(dir: string, url: URL): string {
  const name = basename(decodeURIComponent(url.pathname)) || "index.html";
  return join(dir, name);
}

async function getH3(urls: URL[], o: H3GetOptions): Promise<Outcome[]> {
  // One agent: one connection per origin, every request in parallel on it.
  const agent = new H3Agent({
    tls: {
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.insecure ? { rejectUnauthorized: false } : {}),
      ...(o.serverName ? { serverName: o.serverName } : {}),
      ...(o.ciphers ? { ciphers: o.ciphers } : {}),
    },
    ...o.connection,
    earlyData: o.earlyData,
  });
  // The session file resumes the first URL's origin.
  const origin = urls[0]!;
  if (o.sessionFile && existsSync(o.sessionFile)) agent.setSession(origin, readFileSync(o.sessionFile));
  const keyUpdate = o.keyUpdate ? new KeyUpdater(agent, urls) : undefined;
  try {
    const outcomes = await Promise.all(urls.map((url) => fetchOne(agent, url, o)));
    if (keyUpdate) outcomes.push(keyUpdate.outcome());
    // The session arrives with (or just after) the handshake; a short download may end first.
    if (o.sessionFile) {
      const deadline = Date.now() + 1000;
      while (!agent.getSession(origin) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const session = agent.getSession(origin);
      if (session) writeFileSync(o.sessionFile, session, { mode: 0o600 });
      else outcomes.push({ url: origin.origin, ok: false, bytes: 0, detail: `no session ticket to save in ${o.sessionFile}` });
    }
    if (o.sessionFile) for (const line of resumptionReport(agent, urls)) process.stderr.write(`${line}\n`);
    return outcomes;
  } finally {
    keyUpdate?.stop();
    await agent.closeAll();
  }
}

/** One line per origin on how its connection started: resumed or not, 0-RTT accepted or not. */
function resumptionReport(agent: H3Agent, urls: URL[]): string[] {
  const lines: string[] = [];
  for (const origin of new Set(urls.map((u) => u.origin))) {
    const t = agent.connectionFor(origin)?.transport;
    if (t) lines.push(`${origin}: ${t.tls.resumed ? "resumed" : "full handshake"}, 0-RTT ${t.earlyDataStatus}, cipher ${t.tls.cipherSuite?.name ?? "?"}`);
  }
  return lines;
}

/**
 * Starts one 1-RTT key update on each connection as soon as it is allowed
 * (handshake confirmed, RFC 9001 section 6.1) and checks that the peer
 * answered in the new key phase before the downloads ended.
 */
class KeyUpdater {
  private readonly timer: NodeJS.Timeout;
  private readonly started = new Set<string>();

  constructor(
    private readonly agent: H3Agent,
    private readonly urls: URL[],
  ) {
    this.timer = setInterval(() => this.tick(), 5);
  }

  private tick(): void {
    for (const u of this.urls) {
      const t = this.agent.connectionFor(u)?.transport;
      if (t && !this.started.has(u.origin) && t.updateKey()) this.started.add(u.origin);
    }
  }

  /** Whether every origin's update completed: our packets and the peer's in key phase 1. */
  outcome(): Outcome {
    this.tick();
    const problems: string[] = [];
    for (const origin of new Set(this.urls.map((u) => u.origin))) {
      const t = this.agent.connectionFor(origin)?.transport;
      if (!this.started.has(origin) || !t) problems.push(`${origin}: no key update started`);
      else if (t.keyPhase !== 1 || t.peerKeyPhase !== 1) problems.push(`${origin}: key update not answered (we send phase ${t.keyPhase}, the peer ${t.peerKeyPhase})`);
    }
    return { url: "key update", ok: problems.length === 0, bytes: 0, detail: problems.join("; ") || "completed: both sides in key phase 1" };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function fetchOne(agent: H3Agent, url: URL, o: GetOptions): Promise<Outcome> {
  const item = o.progress.add(url.pathname);
  const target = o.output ? outputPath(o.output, url) : undefined;
  try {
    const res = await agent.fetch(url);
    const lengthHeader = res.headers.get("content-length");
    const expected = lengthHeader === null ? undefined : Number(lengthHeader);
    item.total = expected;
    if (res.status !== 200) {
      await res.body?.cancel();
      item.failed = true;
      return { url: url.href, ok: false, bytes: 0, detail: `status ${res.status}` };
    }
    const hash = createHash("sha256");
    const file = target ? createWriteStream(target) : undefined;
    let bytes = 0;
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        item.received = bytes;
        hash.update(chunk);
        if (file && !file.write(chunk)) await new Promise<void>((r) => file.once("drain", () => r()));
      }
    }
    if (file) await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
    item.done = true;
    if (expected !== undefined && bytes !== expected) {
      item.failed = true;
      if (target) rmSync(target, { force: true });
      return { url: url.href, ok: false, bytes, detail: `incomplete: ${bytes} of ${expected} bytes` };
    }
    return { url: url.href, ok: true, bytes, detail: `sha256 ${hash.digest("hex").slice(0, 16)}` };
  } catch (e) {
    item.failed = true;
    if (target) rmSync(target, { force: true });
    return { url: url.href, ok: false, bytes: item.received, detail: (e as Error).message };
  }
}

async function getHqAll(urls: URL[], o: GetOptions): Promise<Outcome[]> {
  // hq-interop downloads share one connection per origin.
  const byOrigin = new Map<string, URL[]>();
  for (const u of urls) byOrigin.set(u.origin, [...(byOrigin.get(u.origin) ?? []), u]);
  const results: Outcome[] = [];
  for (const [origin, list] of byOrigin) {
    const items = new Map(list.map((u) => [u.pathname, o.progress.add(u.pathname)]));
    try {
      const r = await getHq(
        origin,
        list.map((u) => u.pathname),
        {
          ...(o.ca ? { ca: o.ca } : {}),
          insecure: o.insecure,
          ...(o.serverName ? { serverName: o.serverName } : {}),
          ...(o.output ? { outputDir: o.output } : {}),
          ...o.connection,
          onProgress(p) {
            const it = items.get(p.path);
            if (!it) return;
            it.received = p.bytes;
            if (p.status) {
              it.done = true;
              it.failed = p.status !== "complete";
            }
          },
        },
      );
      for (const f of r.files) {
        results.push({ url: origin + f.path, ok: f.status === "complete", bytes: f.bytes, detail: f.status === "complete" ? `sha256 ${f.sha256.slice(0, 16)}` : `${f.status}${f.error ? `: ${f.error}` : ""}` });
      }
    } catch (e) {
      for (const u of list) results.push({ url: u.href, ok: false, bytes: 0, detail: (e as Error).message });
    }
  }
  return results;
}
