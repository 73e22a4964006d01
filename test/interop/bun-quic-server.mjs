#!/usr/bin/env bun
// An HTTP/3 file server on lsquic, through Bun's node:quic: the peer that
// tsquic's HTTP/3 client is tested against. Run it under Bun (Node.js
// release builds have no node:quic):
//
//   node_modules/.bin/bun test/interop/bun-quic-server.mjs --root DIR --cert cert.pem --key key.pem
//       [--host 127.0.0.1] [--port 0] [--ciphers LIST] [--groups LIST] [--cc reno|cubic|bbr]
//
// GET (and HEAD) of /a/b.bin serves DIR/a/b.bin with status 200 and
// content-length; a missing file is 404, a path that is not a plain
// relative file name (dot segments, encoded separators, NUL) is 400, other
// methods are 405. When the endpoint is listening, the script prints its
// UDP port, alone on one line, on stdout; logs go to stderr. SIGTERM or
// SIGINT closes the endpoint and exits 0.
//
// --groups is honoured (a client offering no listed group gets alert 40).
// --ciphers is handed to node:quic, but Bun 1.4.5 ignores it for TLS 1.3
// (BoringSSL fixes the suites): with a ChaCha20-only list, AES-128-GCM was
// still negotiated here. Restrict ciphers on the other peer instead.
import { listen } from "node:quic";
import { createPrivateKey } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    root: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    ciphers: { type: "string" },
    groups: { type: "string" },
    cc: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});
if (!opts.root || !opts.cert || !opts.key) {
  console.error("usage: bun bun-quic-server.mjs --root DIR --cert cert.pem --key key.pem [--host 127.0.0.1] [--port 0] [--ciphers LIST] [--groups LIST] [--cc reno|cubic|bbr]");
  process.exit(64);
}
const root = realpathSync(opts.root);
const log = (...a) => opts.verbose && console.error("[bun-quic-server]", ...a);

/** Maps a :path to a file under root, or returns null when the path is not a safe relative file name. */
function fileFor(path) {
  const q = path.indexOf("?");
  const clean = q >= 0 ? path.slice(0, q) : path;
  if (!clean.startsWith("/")) return null;
  const segments = [];
  for (const raw of clean.slice(1).split("/")) {
    let s;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return null;
    }
    // Dot segments, encoded separators and control characters could leave the root or confuse the file system.
    if (s === "" || s === "." || s === ".." || /[\\/\u0000-\u001f\u007f]/.test(s)) return null;
    segments.push(s);
  }
  const full = resolve(root, ...segments);
  const rel = relative(root, full);
  if (rel === "" || rel === ".." || rel.startsWith(".." + sep) || isAbsolute(rel)) return null;
  return full;
}

function respond(stream, headers) {
  const method = headers[":method"];
  const path = headers[":path"] ?? "";
  if (method !== "GET" && method !== "HEAD") {
    stream.sendHeaders({ ":status": "405" }, { terminal: true });
    return log(method, path, 405);
  }
  const file = fileFor(path);
  if (file === null) {
    stream.sendHeaders({ ":status": "400" }, { terminal: true });
    return log(method, path, 400);
  }
  let size;
  try {
    // Symbolic links must not lead out of the root either.
    const real = realpathSync(file);
    const rel = relative(root, real);
    if (rel.startsWith(".." + sep) || isAbsolute(rel)) throw new Error("outside the root");
    const st = statSync(real);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch {
    stream.sendHeaders({ ":status": "404" }, { terminal: true });
    return log(method, path, 404);
  }
  if (method === "HEAD" || size === 0) {
    stream.sendHeaders({ ":status": "200", "content-length": String(size) }, { terminal: true });
    return log(method, path, 200, size);
  }
  stream.sendHeaders({ ":status": "200", "content-length": String(size), "content-type": "application/octet-stream" });
  // A Bun.file Blob is read from disk as lsquic asks for data (seen here: about 80 MB resident while serving 300 MB),
  // where a FileHandle body would need --experimental-stream-iter.
  stream.setBody(Bun.file(file));
  log(method, path, 200, size);
}

const sessionOptions = {
  endpoint: { address: `${opts.host}:${opts.port}` },
  sni: { "*": { keys: [createPrivateKey(readFileSync(opts.key))], certs: [readFileSync(opts.cert)] } },
  ...(opts.ciphers ? { ciphers: opts.ciphers } : {}),
  ...(opts.groups ? { groups: opts.groups } : {}),
  ...(opts.cc ? { cc: opts.cc } : {}),
  onheaders(headers) {
    try {
      respond(this, headers);
    } catch (e) {
      console.error("[bun-quic-server] failed to answer", headers[":path"], e);
      try {
        this.resetStream(0x102n); // H3_INTERNAL_ERROR (RFC 9114 section 8.1)
      } catch {}
    }
  },
};

const endpoint = await listen((session) => {
  // node:quic rejects `closed` even for a clean H3_NO_ERROR close; these are not failures of the server.
  session.closed.catch((e) => log("session closed:", e?.message ?? e));
  session.onstream = (stream) => stream.closed.catch((e) => log("stream closed:", e?.message ?? e));
}, sessionOptions);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  // Ending the process closes the UDP socket; a graceful endpoint close would wait for idle sessions.
  const timer = setTimeout(() => process.exit(0), 1000);
  try {
    await endpoint.destroy?.();
  } catch {}
  clearTimeout(timer);
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

console.log(String(endpoint.address.port));
