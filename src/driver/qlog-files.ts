import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../util/bytes.js";
import { QlogTracer, type QlogSink } from "../quic/qlog/qlog.js";
import type { TracerFactory } from "../quic/qlog/tracer.js";

/** Where qlog files go: a directory, as a path or `{ dir }`. */
export type QlogOption = string | { dir: string };

/** Buffered bytes that trigger a write at once. */
const FLUSH_BYTES = 64 * 1024;
/** Buffered records wait at most this long before being written (ms). */
const FLUSH_DELAY_MS = 250;

/** Files with records not yet written, for {@link flushQlogFiles} and the exit hook. */
const pending = new Set<QlogFile>();
let exitHookInstalled = false;

/**
 * One qlog file: records are buffered and appended in batches (at 64 KiB,
 * after 250 ms, when the connection closes, at process exit), so the
 * event loop never waits on the disk per event. Each batch is one small
 * synchronous append, which keeps records in order and loses none at exit.
 */
class QlogFile implements QlogSink {
  private chunks: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private failed = false;
  private started = false;

  constructor(readonly path: string) {}

  write(record: string): void {
    if (this.failed) return;
    this.chunks.push(record);
    this.bytes += record.length;
    if (this.bytes >= FLUSH_BYTES) {
      this.flush();
      return;
    }
    if (!pending.has(this)) {
      pending.add(this);
      installExitHook();
    }
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    pending.delete(this);
    if (this.chunks.length === 0 || this.failed) return;
    const text = this.chunks.join("");
    this.chunks = [];
    this.bytes = 0;
    try {
      // The first batch replaces a file left by an earlier run with the same connection ID.
      if (this.started) appendFileSync(this.path, text);
      else writeFileSync(this.path, text);
      this.started = true;
    } catch (e) {
      // A full disk or a removed directory must not take the connection down: say so once and stop tracing.
      this.failed = true;
      process.emitWarning(`qlog: cannot write ${this.path}: ${(e as Error).message}; tracing of this connection stopped`);
    }
  }

  finish(): void {
    this.flush();
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", flushQlogFiles);
}

/** Writes out every buffered qlog record now (tests call it before reading the files). */
export function flushQlogFiles(): void {
  for (const f of [...pending]) f.flush();
}

/** The directory of a {@link QlogOption}. */
export function qlogDir(option: QlogOption): string {
  const dir = typeof option === "string" ? option : option?.dir;
  if (typeof dir !== "string" || dir === "") throw new TypeError('qlog must be a directory path or { dir: "path" }');
  return dir;
}

/**
 * A tracer factory writing one JSON-SEQ qlog file per connection into
 * `dir` (created if missing), named `<original DCID in hex>_<role>.sqlog`
 * as ngtcp2 and quiche name theirs, readable by qvis.
 */
export function qlogDirectory(option: QlogOption): TracerFactory {
  const dir = qlogDir(option);
  // Fail at configuration time, not at the first connection.
  mkdirSync(dir, { recursive: true });
  return (start) => {
    const role = start.connection.role;
    return new QlogTracer(start, new QlogFile(join(dir, `${toHex(start.originalDcid)}_${role}.sqlog`)));
  };
}
