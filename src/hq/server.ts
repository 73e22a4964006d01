/**
 * An hq-interop file server (the interop runner's HTTP/0.9 over QUIC) on
 * tsquic's `listen()` API: each client-initiated bidirectional stream
 * carries `GET <path>\r\n`; the answer is the file's bytes and FIN, or a
 * RESET_STREAM when there is no such file or the request is refused.
 * Files stream from disk in chunks, and reading pauses whenever the
 * stream's send buffer is above its high-water mark (`write()` returned
 * false) until `drain`, so memory stays bounded whatever the file size.
 */
import type { KeyObject } from "node:crypto";
import { open, realpath, stat, type FileHandle } from "node:fs/promises";
import { keylogPerLine, listen, pickTransportOptions, type CertInput, type QuicServerOptions, type QuicStream, type QuicTransportOptions } from "../api/quic.js";
import type { KeylogOption } from "../driver/keylog-file.js";
import { HqErrorCode } from "./codes.js";
import { HQ_ALPN, HqRequestError, isInside, RequestLineBuffer, resolveUnderRoot, type HqRequest } from "./request-line.js";

/** Options of {@link serveHq}. */
export interface HqServerOptions extends QuicTransportOptions {
  /** Directory whose files are served; nothing outside it is ever opened. */
  root: string;
  /** Address to bind. Default "127.0.0.1". */
  hostname?: string;
  /** UDP port; 0 (the default) picks a free one (see `server.port`). */
  port?: number;
  /** Certificate chain (PEM or DER). */
  cert: CertInput;
  /** Private key. */
  key: string | Uint8Array | KeyObject;
  /** ALPN tokens accepted. Default ["hq-interop"]. */
  alpn?: string | string[];
  /** Require a Retry round trip first (RFC 9000 section 8.1.2). */
  validateAddress?: boolean;
  /** Addresses offered to clients in preferred_address (RFC 9000 section 9.6); see `listen()`. */
  preferredAddress?: QuicServerOptions["preferredAddress"];
  /** Bytes read from disk per step. Default 64 KiB. */
  chunkSize?: number;
  /** Longest request line accepted, CRLF included. Default 4096. */
  maxRequestLength?: number;
  /** Called once per request when it ends, for logs and tests. */
  onRequest?(record: HqRequestRecord): void;  /** SSLKEYLOGFILE lines: a file path or a function per line. */
  keylog?: KeylogOption;
}

/** How a request ended. */
export type HqRequestOutcome =
  /** Every byte of the file and the FIN were queued on the stream (delivery is then the transport's job). */
  | "served"
  /** No regular file at that path: the stream was reset with NOT_FOUND. */
  | "not-found"
  /** The request line was refused (see `reason`): reset with BAD_REQUEST. */
  | "bad-request"
  /** The client reset the stream, asked us to stop, or the connection or server ended first. */
  | "aborted"
  /** A local I/O error: reset with INTERNAL_ERROR. */
  | "error";

/** One finished request, as reported to `onRequest`. */
export interface HqRequestRecord {
  /** QUIC stream ID. */
  streamId: number;
  /** The target as sent, when the request line parsed. */
  target?: string;
  /** How it ended. */
  outcome: HqRequestOutcome;
  /** File bytes queued on the stream. */
  bytes: number;
  /** For "bad-request": the rule broken (an {@link HqRequestError} reason); for "error": the error. */
  reason?: string;
}

/** Counters of a running server. */
export interface HqServerStats {
  /** Requests that ended, whatever the outcome. */
  requests: number;
  /** Outcome "served". */
  served: number;
  /** Outcome "not-found". */
  notFound: number;
  /** Outcome "bad-request". */
  badRequests: number;
  /** Outcome "aborted". */
  aborted: number;
  /** Outcome "error". */
  errors: number;
  /** File bytes queued on streams. */
  bytesSent: number;
  /** Times a file transfer paused for `drain` because its stream's send buffer was full (backpressure at work). */
  pauses: number;
}

/** A running hq-interop server. */
export interface HqServer {
  /** The bound UDP port. */
  readonly port: number;
  /** The bound address. */
  readonly hostname: string;
  /** Counters so far. */
  readonly stats: Readonly<HqServerStats>;
  /** Live QUIC connections. */
  readonly connections: number;
  /** Closes every connection, stops every file transfer and releases the socket; resolves once open files are closed. */
  stop(): Promise<void>;
}

/** Per-stream state of one hq-interop request (kept in `stream.data`). */
export interface HqExchange {
  readonly line: RequestLineBuffer;
  phase: "request" | "responding" | "done";
  aborted: boolean;
  /** Resumes the file pump (after drain, or to let it see `aborted`). */
  wake: (() => void) | undefined;
}

const DEFAULT_CHUNK = 64 * 1024;

/** True for the errors that mean "no regular file here". */
function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR" || code === "ELOOP" || code === "ENAMETOOLONG";
}

/**
 * The hq-interop application without a socket of its own: the stream and
 * connection handlers of `listen()` plus its statistics, so one UDP socket
 * can carry hq-interop beside other protocols (`tsquic serve` routes by
 * ALPN). {@link serveHq} is this plus a socket.
 */
export interface HqApp {
  /** Handlers for `listen()` or for a router that hands hq-interop connections to them. */
  readonly handlers: Pick<QuicServerOptions<HqExchange>, "error" | "stream">;
  readonly stats: HqServerStats;
  /** Aborts every response in progress and waits for their file handles to close. */
  abortAll(): Promise<void>;
}

/** Builds the hq-interop application serving files under `options.root`. */
export async function createHqApp(options: Pick<HqServerOptions, "root" | "chunkSize" | "maxRequestLength" | "onRequest">): Promise<HqApp> {
  const realRoot = await realpath(options.root);
  if (!(await stat(realRoot)).isDirectory()) throw new TypeError(`serveHq: root ${options.root} is not a directory`);
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  const stats: HqServerStats = { requests: 0, served: 0, notFound: 0, badRequests: 0, aborted: 0, errors: 0, bytesSent: 0, pauses: 0 };
  const live = new Set<HqExchange>();
  const tasks = new Set<Promise<void>>();

  const finish = (record: HqRequestRecord): void => {
    stats.requests++;
    if (record.outcome === "served") stats.served++;
    else if (record.outcome === "not-found") stats.notFound++;
    else if (record.outcome === "bad-request") stats.badRequests++;
    else if (record.outcome === "aborted") stats.aborted++;
    else stats.errors++;
    options.onRequest?.(record);
  };

  const abort = (ex: HqExchange | undefined): void => {
    if (!ex || ex.phase === "done") return;
    ex.aborted = true;
    ex.wake?.();
  };

  const reset = (stream: QuicStream<HqExchange>, code: number): void => {
    try {
      stream.close(code);
    } catch {
      // The connection is already gone: nothing to reset.
    }
  };

  async function respond(stream: QuicStream<HqExchange>, ex: HqExchange, req: HqRequest): Promise<void> {
    const base = { streamId: stream.id, target: req.target };
    let fh: FileHandle | undefined;
    let bytes = 0;
    try {
      try {
        const candidate = resolveUnderRoot(realRoot, req.segments);
        const file = await realpath(candidate);
        // A symbolic link inside the root may point anywhere: the real path must stay inside the real root.
        if (!isInside(realRoot, file)) throw Object.assign(new Error("symbolic link leads out of the root"), { code: "ENOENT" });
        fh = await open(file, "r");
        if (!(await fh.stat()).isFile()) throw Object.assign(new Error("not a regular file"), { code: "EISDIR" });
      } catch (e) {
        if (ex.aborted) return finish({ ...base, outcome: "aborted", bytes });
        ex.phase = "done";
        if (e instanceof HqRequestError) {
          reset(stream, HqErrorCode.BAD_REQUEST);
          return finish({ ...base, outcome: "bad-request", bytes, reason: e.reason });
        }
        if (isNotFound(e)) {
          reset(stream, HqErrorCode.NOT_FOUND);
          return finish({ ...base, outcome: "not-found", bytes });
        }
        reset(stream, HqErrorCode.INTERNAL_ERROR);
        return finish({ ...base, outcome: "error", bytes, reason: String(e) });
      }
      while (!ex.aborted) {
        // A fresh buffer per chunk: nothing we hand to write() is touched again.
        const buf = Buffer.allocUnsafe(chunkSize);
        const { bytesRead } = await fh.read(buf, 0, chunkSize, null);
        if (ex.aborted) break;
        if (bytesRead === 0) {
          ex.phase = "done";
          stream.end();
          return finish({ ...base, outcome: "served", bytes });
        }
        bytes += bytesRead;
        stats.bytesSent += bytesRead;
        // Backpressure: above the high-water mark, stop reading the file until drain.
        if (!stream.write(buf.subarray(0, bytesRead)) && !ex.aborted) {
          stats.pauses++;
          await new Promise<void>((resolve) => (ex.wake = resolve));
          ex.wake = undefined;
        }
      }
      ex.phase = "done";
      finish({ ...base, outcome: "aborted", bytes });
    } catch (e) {
      // A read error mid-file, or a write after the connection closed.
      const wasAborted = ex.aborted;
      ex.phase = "done";
      if (!wasAborted) reset(stream, HqErrorCode.INTERNAL_ERROR);
      finish({ ...base, outcome: wasAborted ? "aborted" : "error", bytes, ...(wasAborted ? {} : { reason: String(e) }) });
    } finally {
      live.delete(ex);
      await fh?.close().catch(() => {});
    }
  }

  const handlers: HqApp["handlers"] = {
    error() {
      // Connection failures (a client vanishing, a bad handshake) end that connection only; its streams see close.
    },
    stream: {
      open(stream) {
        // Requests travel only on client-initiated bidirectional streams (ID mod 4 == 0, RFC 9000 section 2.1); other streams are ignored.
        if (stream.id % 4 !== 0) return;
        const ex: HqExchange = { line: new RequestLineBuffer({ maxLength: options.maxRequestLength }), phase: "request", aborted: false, wake: undefined };
        stream.data = ex;
        live.add(ex);
      },
      data(stream, buffer) {
        const ex = stream.data;
        if (!ex || ex.phase === "done") return;
        if (ex.phase === "responding") {
          if (buffer.length === 0) return;
          // A request is one line then FIN: more bytes are a protocol error from the client.
          abort(ex);
          reset(stream, HqErrorCode.BAD_REQUEST);
          return;
        }
        let req: HqRequest | undefined;
        try {
          req = ex.line.push(buffer);
        } catch (e) {
          ex.phase = "done";
          live.delete(ex);
          reset(stream, HqErrorCode.BAD_REQUEST);
          finish({ streamId: stream.id, outcome: "bad-request", bytes: 0, reason: e instanceof HqRequestError ? e.reason : String(e) });
          return;
        }
        if (!req) return;
        ex.phase = "responding";
        const task = respond(stream, ex, req);
        tasks.add(task);
        void task.finally(() => tasks.delete(task));
      },
      drain(stream) {
        stream.data?.wake?.();
      },
      error(stream) {
        // Reset or STOP_SENDING from the client, or the connection failed: stop reading the file.
        abort(stream.data);
      },
      close(stream) {
        const ex = stream.data;
        if (ex && ex.phase === "request") {
          // The stream ended before a complete request line arrived.
          ex.phase = "done";
          live.delete(ex);
          finish({ streamId: stream.id, outcome: "aborted", bytes: 0 });
          return;
        }
        abort(ex);
      },
    },
  };
  return {
    handlers,
    stats,
    async abortAll() {
      for (const ex of live) abort(ex);
      await Promise.all([...tasks]);
    },
  };
}

/**
 * Starts an hq-interop server and resolves once it is bound. Files under
 * `root` are served by path; targets that do not decode to a safe path
 * (dot segments, encoded separators, NUL...) are refused, and symbolic
 * links leading out of `root` are treated as missing.
 */
export async function serveHq(options: HqServerOptions): Promise<HqServer> {
  const app = await createHqApp(options);
  const quic = listen<HqExchange>({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    alpn: options.alpn ?? [HQ_ALPN],
    quic: { cert: options.cert, key: options.key },
    ...(options.validateAddress ? { validateAddress: true } : {}),
    ...(options.preferredAddress ? { preferredAddress: options.preferredAddress } : {}),
    ...pickTransportOptions(options),
    ...(options.keylog ? { keylog: keylogPerLine(options.keylog) } : {}),
    ...app.handlers,
  });
  await quic.ready;

  let stopping: Promise<void> | undefined;
  return {
    get port() {
      return quic.port;
    },
    get hostname() {
      return quic.hostname;
    },
    stats: app.stats,
    get connections() {
      return quic.connections;
    },
    stop() {
      stopping ??= (async () => {
        quic.stop(true);
        await app.abortAll();
        // QuicServer releases its UDP socket on the next turn after closing its connections.
        await new Promise<void>((resolve) => setImmediate(resolve));
      })();
      return stopping;
    },
  };
}
