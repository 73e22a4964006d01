/**
 * The `qlog` option of the Node-style API (seed 001, `quicsession.qlog`):
 * `true` traces each session into a stream.Readable of JSON-SEQ records
 * (draft-ietf-quic-qlog-main-schema, RS + JSON + LF per record, the same
 * text as the `.sqlog` files); `{ dir }` writes one file per connection
 * through src/driver/qlog-files.ts instead.
 */
import { Readable } from "node:stream";
import type { Connection } from "../quic/connection.js";
import { QlogTracer, type QlogSink } from "../quic/qlog/qlog.js";
import type { TracerFactory } from "../quic/qlog/tracer.js";
import { qlogDirectory } from "../driver/qlog-files.js";
import { QuicOptionError } from "./errors.js";

/** What `qlog` may be: off, a Readable per session, or a directory of files. */
export type QlogSetting = boolean | { dir: string };

/**
 * Unread qlog text one session may hold (bytes). A reader that does not
 * keep up loses the records past it (with one warning) rather than let a
 * long connection grow memory without bound.
 */
export const MAX_UNREAD_QLOG_BYTES = 8 * 1024 * 1024;

/** A qlog sink pushing each record into a Readable. */
class ReadableSink implements QlogSink {
  readonly readable = new Readable({ read() {} });
  #dropped = 0;
  #ended = false;

  /** @param onEnd called once the trace ended or the reader destroyed the stream. */
  constructor(private readonly onEnd: () => void) {
    this.readable.once("close", onEnd);
  }

  write(record: string): void {
    const r = this.readable;
    if (this.#ended || r.destroyed) return;
    if (r.readableLength >= MAX_UNREAD_QLOG_BYTES) {
      if (this.#dropped++ === 0) process.emitWarning(`qlog: ${MAX_UNREAD_QLOG_BYTES} bytes of a session's qlog are unread; later records are dropped until it is read`);
      return;
    }
    r.push(record);
  }

  finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.readable.destroyed) this.readable.push(null);
    this.onEnd();
  }
}

/**
 * The qlog Readables of one QuicSocket's connections: the tracer factory
 * makes them as connections are created (before their sessions exist),
 * sessions take theirs, and the socket ends those left when it shuts down
 * (connections abandoned with their sockets never finish their traces).
 */
export class QlogReadables {
  readonly #byConnection = new WeakMap<Connection, Readable>();
  readonly #open = new Set<ReadableSink>();

  /** The tracer factory for a `qlog` option (`where` names it in errors); undefined when off. */
  tracerFactory(where: string, setting: unknown): TracerFactory | undefined {
    if (setting === undefined || setting === false) return undefined;
    if (setting === true) {
      return (start) => {
        const sink: ReadableSink = new ReadableSink(() => this.#open.delete(sink));
        this.#open.add(sink);
        this.#byConnection.set(start.connection, sink.readable);
        return new QlogTracer(start, sink);
      };
    }
    if (typeof setting === "object" && setting !== null && typeof (setting as { dir?: unknown }).dir === "string" && (setting as { dir: string }).dir !== "") {
      return qlogDirectory(setting as { dir: string });
    }
    throw new QuicOptionError("ERR_INVALID_ARG_VALUE", `${where}.qlog`, `${where}.qlog must be a boolean or { dir: "path" }`);
  }

  /** The Readable of `connection`'s trace, once (undefined when it is not traced into one). */
  take(connection: Connection): Readable | undefined {
    const r = this.#byConnection.get(connection);
    this.#byConnection.delete(connection);
    return r;
  }

  /** Ends every trace still open. */
  endAll(): void {
    for (const sink of [...this.#open]) sink.finish();
    this.#open.clear();
  }
}
