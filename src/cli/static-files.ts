import { createReadStream, statSync } from "node:fs";
import { extname } from "node:path";
import { Readable } from "node:stream";
import { decodeTarget, resolveUnderRoot } from "../hq/request-line.js";

/** Content types by file extension (the common ones; everything else is application/octet-stream). */
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
};

/** The content type for a file name. */
export function contentTypeFor(name: string): string {
  return TYPES[extname(name).toLowerCase()] ?? "application/octet-stream";
}

/**
 * A `fetch` handler serving files under `root`: GET and HEAD only, paths
 * checked against traversal (the hq-interop parser's rules), content-length
 * and content-type set, bodies streamed from disk.
 */
export function staticFileHandler(root: string): (request: Request) => Response {
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
    }
    let file: string;
    try {
      const path = new URL(request.url).pathname;
      file = resolveUnderRoot(root, decodeTarget(path === "/" ? "/index.html" : path));
    } catch {
      return new Response(null, { status: 400 });
    }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return new Response(null, { status: 404 });
      size = st.size;
    } catch {
      return new Response(null, { status: 404 });
    }
    const headers = { "content-length": String(size), "content-type": contentTypeFor(file) };
    if (request.method === "HEAD") return new Response(null, { status: 200, headers });
    const body = Readable.toWeb(createReadStream(file, { highWaterMark: 256 * 1024 })) as unknown as ReadableStream<Uint8Array>;
    return new Response(body, { status: 200, headers });
  };
}
