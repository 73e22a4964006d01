#!/usr/bin/env bun
// An HTTP/3 client on lsquic, through Bun's node:quic: the peer that
// tsquic's HTTP/3 server is tested against. Run it under Bun:
//
//   node_modules/.bin/bun test/interop/bun-quic-client.mjs HOST:PORT URL_OR_PATH... [--out DIR]
//       [--ca ca.pem | --insecure] [--servername NAME] [--ciphers LIST] [--groups LIST]
//       [--cc reno|cubic|bbr] [--timeout MS]
//
// Every URL (https://authority/path) or bare path (/path) is a GET on one
// QUIC session to HOST:PORT, all in flight at once. With --out, each body
// is written to DIR/<last path segment> ("index.html" when the path has
// none), as gtlsclient --download does, and kept only for a complete 200.
// One JSON line per request goes to stdout when it ends:
// {"url", "status", "bytes", "file"?, "error"?}. The exit code is 0 only
// when every request got status 200 and its whole body (content-length,
// when sent, matched); 1 otherwise; 2 on timeout (default 30 s); 64 on bad
// usage. The negotiated ALPN and cipher go to stderr. As with the server,
// --ciphers is ignored by Bun 1.4.5 for TLS 1.3; --groups is honoured.
import { connect } from "node:quic";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: "string" },
    ca: { type: "string" },
    insecure: { type: "boolean", default: false },
    servername: { type: "string" },
    ciphers: { type: "string" },
    groups: { type: "string" },
    cc: { type: "string" },
    timeout: { type: "string", default: "30000" },
  },
});
const [target, ...urls] = positionals;
const m = target && (/^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target));
if (!m || urls.length === 0 || (!opts.ca && !opts.insecure)) {
  console.error("usage: bun bun-quic-client.mjs HOST:PORT URL_OR_PATH... [--out DIR] (--ca ca.pem | --insecure) [--servername NAME] [--ciphers LIST] [--groups LIST] [--cc reno|cubic|bbr] [--timeout MS]");
  process.exit(64);
}
const host = m[1];
const port = Number(m[2]);
const servername = opts.servername ?? "localhost";
if (opts.out) mkdirSync(opts.out, { recursive: true });

const timer = setTimeout(() => {
  console.error(`[bun-quic-client] timed out after ${opts.timeout} ms`);
  process.exit(2);
}, Number(opts.timeout));

/** The request's :path and :authority for a URL or a bare path. */
function requestFor(u) {
  if (u.startsWith("/")) return { path: u, authority: `${servername}:${port}` };
  const url = new URL(u);
  return { path: url.pathname + url.search, authority: url.host };
}

/** gtlsclient's naming: the last path segment, or index.html. */
function outputName(path) {
  const p = path.split("?")[0];
  const last = decodeURIComponent(p.slice(p.lastIndexOf("/") + 1));
  if (last === "" || last === "." || last === ".." || /[\\/\u0000]/.test(last)) return "index.html";
  return last;
}

let session;
try {
  session = await connect(
    { address: host, port },
    {
      servername,
      // "auto" fails the handshake when the chain does not verify; "manual" leaves it to us, and --insecure ignores it.
      verifyPeer: opts.insecure ? "manual" : "auto",
      ...(opts.ca ? { ca: [readFileSync(opts.ca)] } : {}),
      ...(opts.ciphers ? { ciphers: opts.ciphers } : {}),
      ...(opts.groups ? { groups: opts.groups } : {}),
      ...(opts.cc ? { cc: opts.cc } : {}),
    },
  );
  // A clean H3_NO_ERROR close still rejects `closed` in node:quic; failures show up per request instead.
  session.closed.catch(() => {});
  const info = await session.opened;
  console.error(`[bun-quic-client] connected: ${info?.protocol} ${info?.cipherVersion} ${info?.cipher}`);
} catch (e) {
  console.error(`[bun-quic-client] connection failed: ${e?.message ?? e}`);
  process.exit(1);
}

async function fetchOne(u) {
  const { path, authority } = requestFor(u);
  const result = { url: u, status: 0, bytes: 0 };
  let fd;
  try {
    let headers;
    const stream = await session.createBidirectionalStream({
      headers: { ":method": "GET", ":scheme": "https", ":authority": authority, ":path": path, "user-agent": "bun-quic-client" },
      onheaders(h) {
        headers = h;
      },
    });
    if (opts.out) {
      result.file = join(opts.out, outputName(path));
      fd = openSync(result.file, "w");
    }
    // The iterator yields batches (arrays of Uint8Array); pulling one at a time is the backpressure.
    for await (const batch of stream) {
      for (const chunk of Array.isArray(batch) ? batch : [batch]) {
        result.bytes += chunk.byteLength;
        if (fd !== undefined) for (let o = 0; o < chunk.byteLength; ) o += writeSync(fd, chunk, o);
      }
    }
    await stream.closed;
    result.status = Number(headers?.[":status"] ?? 0);
    const length = headers?.["content-length"];
    if (length !== undefined && Number(length) !== result.bytes) result.error = `content-length ${length} but ${result.bytes} bytes arrived`;
  } catch (e) {
    result.error = String(e?.message ?? e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (result.file !== undefined && (result.status !== 200 || result.error)) {
    // Only complete 200 bodies are left on disk, so a comparison never mistakes an error page for a download.
    rmSync(result.file, { force: true });
    delete result.file;
  }
  console.log(JSON.stringify(result));
  return result.status === 200 && !result.error;
}

const oks = await Promise.all(urls.map(fetchOne));
try {
  await session.close();
} catch {}
clearTimeout(timer);
process.exit(oks.every(Boolean) ? 0 : 1);
