/**
 * An hq-interop client: downloads several paths in parallel over one QUIC
 * connection, one client-initiated bidirectional stream per path
 * (`GET <path>\r\n` then FIN; the answer is the body then FIN, or a reset).
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { keylogPerLine, parseTarget, pickTransportOptions, quic, type CertInput, type QuicSocket, type QuicStream, type QuicTransportOptions } from "../api/quic.js";
import type { KeylogOption } from "../driver/keylog-file.js";
import type { ConnectionStats } from "../quic/connection.js";
import { QuicConnectionError } from "../quic/connection.js";
import { TsquicError } from "../util/errors.js";
import { HqErrorCode } from "./codes.js";
import { decodeTarget, formatRequestLine, HQ_ALPN, resolveUnderRoot } from "./request-line.js";

/** Options of {@link getHq}. */
export interface HqClientOptions extends QuicTransportOptions {
  /** CA certificates that verify the server. */
  ca?: CertInput;
  /** Skip certificate verification (tests against self-signed peers only). */
  insecure?: boolean;
  /** Name for SNI and verification. Default: the origin's host. */
  serverName?: string;
  /** Directory to write each body to, at the request path below it (directories are created). Without it, bodies are only counted and hashed. */
  outputDir?: string;
  /** Called as bytes arrive and once more when a path ends. */
  onProgress?(progress: HqProgress): void;
  /** ALPN to offer. Default "hq-interop". */
  alpn?: string | string[];
  /** Most requests in flight at once (the server's stream limit applies too). Default 100. */
  maxConcurrentStreams?: number;  /** SSLKEYLOGFILE lines: a file path or a function per line. */
  keylog?: KeylogOption;
}

/** Progress of one path. */
export interface HqProgress {
  path: string;
  /** Body bytes received so far. */
  bytes: number;
  /** Set once the path has ended. */
  status?: HqFileStatus;
}

/** How one path ended. */
export type HqFileStatus =
  /** The whole body arrived, then FIN. */
  | "complete"
  /** The server reset the stream (or asked us to stop): no such file, or refused. `errorCode` holds its code. */
  | "reset"
  /** Not requested (the path cannot be written under `outputDir`), or the connection failed first. */
  | "failed";

/** The result for one path. */
export interface HqFileResult {
  /** The path as given. */
  path: string;
  status: HqFileStatus;
  /** Body bytes received (for "reset", what arrived before it; the partial file is removed). */
  bytes: number;
  /** SHA-256 of the received bytes, hex. */
  sha256: string;
  /** Where the body was written, when `outputDir` was given and the path completed. */
  file?: string;
  /** The application error code of a reset. */
  errorCode?: number;
  /** What went wrong, for "reset" and "failed". */
  error?: Error;
}

/** The result of {@link getHq}. */
export interface HqDownload {
  /** One entry per requested path, in the order given. */
  files: HqFileResult[];
  /** The connection's statistics when it ended. */
  stats: ConnectionStats;
}

/** One download in progress. */
interface Transfer {
  readonly result: HqFileResult;
  readonly hash: Hash;
  /** Output path and open descriptor, when writing to disk. */
  readonly file: string | undefined;
  fd: number | undefined;
  failure: Error | undefined;
}

/** Splits an origin ("https://host:port", "host:port", "[::1]:port") into host and port. */
function parseOrigin(origin: string): { host: string; port: number } {
  if (!origin.includes("://")) return parseTarget(origin);
  const u = new URL(origin);
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : 443;
  return { host, port };
}

/**
 * Downloads `paths` from an hq-interop server over one connection, with up
 * to `maxConcurrentStreams` requests in flight. Resolves when every path
 * has ended (complete, reset or failed) and the connection is closed;
 * rejects only when the connection cannot be established. A reset is
 * reported on its path and does not disturb the others.
 *
 * With `outputDir`, bodies are written with synchronous writes as they
 * arrive: tsquic's stream API has no read pause, so writing at once is
 * what keeps memory bounded for large files.
 */
export async function getHq(origin: string, paths: readonly string[], options: HqClientOptions = {}): Promise<HqDownload> {
  const { host, port } = parseOrigin(origin);
  const results: HqFileResult[] = paths.map((path) => ({ path, status: "failed", bytes: 0, sha256: "" }));
  const pending: number[] = [];
  for (let i = 0; i < paths.length; i++) {
    const r = results[i]!;
    try {
      formatRequestLine(r.path);
      if (options.outputDir !== undefined) resolveUnderRoot(options.outputDir, decodeTarget(r.path));
      pending.push(i);
    } catch (e) {
      // Not sendable, or would be written outside outputDir: never requested.
      r.error = e as Error;
      r.sha256 = createHash("sha256").digest("hex");
    }
  }
  const maxInFlight = Math.max(1, options.maxConcurrentStreams ?? 100);
  let inFlight = 0;
  let settled = 0;
  const toSettle = pending.length;
  let retryTimer: NodeJS.Timeout | undefined;
  let onAllSettled: (() => void) | undefined;
  let onClosed: (() => void) | undefined;
  let connectionClosed = false;

  const settle = (t: Transfer, status: HqFileStatus, extra: Partial<HqFileResult> = {}): void => {
    if (t.fd !== undefined) {
      closeSync(t.fd);
      t.fd = undefined;
    }
    Object.assign(t.result, { status, sha256: t.hash.digest("hex"), ...extra });
    if (status === "complete") {
      if (t.file !== undefined) t.result.file = t.file;
    } else if (t.file !== undefined) {
      // A partial body must not pass for a download.
      rmSync(t.file, { force: true });
    }
    inFlight--;
    settled++;
    options.onProgress?.({ path: t.result.path, bytes: t.result.bytes, status });
    if (settled === toSettle) onAllSettled?.();
    else pump();
  };

  const tls = {
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.insecure ? { rejectUnauthorized: false } : {}),
    serverName: options.serverName ?? host,
  };
  const socket: QuicSocket<Transfer> = await quic<Transfer>(`${host.includes(":") ? `[${host}]` : host}:${port}`, {
    alpn: options.alpn ?? HQ_ALPN,
    tls,
    ...pickTransportOptions(options),
    ...(options.keylog ? { keylog: keylogPerLine(options.keylog) } : {}),
    stream: {
      data(stream, buffer) {
        const t = stream.data;
        if (!t || t.failure) return;
        t.hash.update(buffer);
        t.result.bytes += buffer.length;
        if (t.fd !== undefined) {
          try {
            for (let o = 0; o < buffer.length; ) o += writeSync(t.fd, buffer, o);
          } catch (e) {
            // Disk full or similar: give up on this path and tell the server to stop sending.
            t.failure = e as Error;
            stream.close(HqErrorCode.CANCELLED);
            return;
          }
        }
        options.onProgress?.({ path: t.result.path, bytes: t.result.bytes });
      },
      error(stream, err) {
        const t = stream.data;
        if (t && !t.failure) t.failure = err;
      },
      close(stream) {
        const t = stream.data;
        if (!t) return;
        stream.data = undefined;
        // A connection that ends cleanly (the peer's CONNECTION_CLOSE with code 0) closes its streams without an
        // error; the socket is already marked closed then, while a stream that finished on its own closes before.
        const err = t.failure ?? (stream.socket.closed ? new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection closed before the response ended") : undefined);
        if (!err) settle(t, "complete");
        else if (err instanceof QuicConnectionError && (err.code === "ERR_QUIC_STREAM_RESET" || err.code === "ERR_QUIC_STREAM_STOPPED")) {
          settle(t, "reset", { errorCode: err.errorCode, error: err });
        } else settle(t, "failed", { error: err });
      },
    },
    socket: {
      close() {
        connectionClosed = true;
        onClosed?.();
        // Its streams have all closed by now; paths never sent end the wait too.
        onAllSettled?.();
      },
    },
  });

  function pump(): void {
    while (inFlight < maxInFlight && pending.length > 0 && !connectionClosed) {
      const i = pending[0]!;
      const r = results[i]!;
      let stream: QuicStream<Transfer>;
      try {
        stream = socket.stream();
      } catch (e) {
        if ((e as TsquicError).code === "ERR_QUIC_STREAM_LIMIT") {
          // The server's MAX_STREAMS is used up; the API has no "streams available" callback,
          // so try again when one of ours closes, or shortly (MAX_STREAMS may arrive any time).
          retryTimer ??= setTimeout(() => {
            retryTimer = undefined;
            pump();
          }, 5);
          return;
        }
        // The connection is closing: the paths left are reported as failed.
        return;
      }
      pending.shift();
      let file: string | undefined;
      let fd: number | undefined;
      if (options.outputDir !== undefined) {
        try {
          file = resolveUnderRoot(options.outputDir, decodeTarget(r.path));
          mkdirSync(dirname(file), { recursive: true });
          fd = openSync(file, "w");
        } catch (e) {
          // Nowhere to write (permissions, a file where a directory should be): drop the stream unused.
          stream.close(HqErrorCode.CANCELLED);
          r.error = e as Error;
          r.sha256 = createHash("sha256").digest("hex");
          settled++;
          options.onProgress?.({ path: r.path, bytes: 0, status: "failed" });
          if (settled === toSettle) onAllSettled?.();
          continue;
        }
      }
      inFlight++;
      stream.data = { result: r, hash: createHash("sha256"), file, fd, failure: undefined };
      stream.end(formatRequestLine(r.path));
    }
  }

  try {
    if (toSettle > 0 && !connectionClosed) {
      await new Promise<void>((resolve) => {
        onAllSettled = resolve;
        pump();
      });
    }
  } finally {
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
    // Paths never sent because the connection ended.
    for (const i of pending) {
      const r = results[i]!;
      r.error ??= new TsquicError("ERR_QUIC_CONNECTION_CLOSED", "the connection closed before the request was sent");
      r.sha256 = createHash("sha256").digest("hex");
    }
    if (!connectionClosed) {
      await new Promise<void>((resolve) => {
        onClosed = resolve;
        socket.close(HqErrorCode.NO_ERROR);
      });
    }
  }
  return { files: results, stats: socket.stats() };
}
