// Helpers for the benchmark's child processes (tsquic, quiche and Bun
// peers). A child gets its settings as one JSON argument after `--config`
// and reports on stdout, one JSON object per line; the orchestrator
// ignores every other line. Commands (for the memory benchmark) arrive on
// stdin, one word per line. Runs on Node and on Bun.
import { createInterface } from "node:readline";

/** Reads the JSON settings given after `--config`. */
export function childConfig<T>(): T {
  const i = process.argv.indexOf("--config");
  if (i < 0 || i + 1 >= process.argv.length) throw new Error("missing --config '{...}'");
  return JSON.parse(process.argv[i + 1]!) as T;
}

/** Sends one message to the orchestrator. */
export function emit(message: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(message) + "\n");
}

/** Sends the final result with the CPU time this process used (user + system seconds). */
export function emitResult(result: Record<string, unknown>): void {
  const u = process.cpuUsage();
  emit({ result: { ...result, cpuSeconds: (u.user + u.system) / 1e6 } });
}

/** Reports a failure and exits non-zero: a child never hangs on an error. */
export function fail(error: unknown): never {
  const e = error instanceof Error ? error : new Error(String(error));
  emit({ error: e.message, stack: e.stack });
  process.exit(1);
}

/** Calls `handler` for each line on stdin; the process exits when stdin closes (the orchestrator went away). */
export function onCommand(handler: (command: string) => void): void {
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => handler(line.trim()));
  rl.on("close", () => process.exit(0));
}

/** Milliseconds with sub-millisecond precision. */
export function now(): number {
  return performance.now();
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Percentile (0..100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * The benchmark's tiny stream protocol, spoken by tsquic's and quiche's
 * raw peers alike: the client starts a stream with one ASCII line, then
 * - `D <n>`: the server sends n bytes and FIN (download);
 * - `U <n>`: the client sends n bytes; the server answers with the decimal
 *   count once it has them all, and FIN (upload);
 * - `E <n>`: the server echoes the next n bytes back, and FIN.
 * The counts make every exchange self-delimiting, so neither side needs to
 * observe the peer's FIN.
 */
export type RequestKind = "D" | "U" | "E";

/** Encodes a request line. */
export function requestLine(kind: RequestKind, n: number): Uint8Array {
  return new TextEncoder().encode(`${kind} ${n}\n`);
}

/** Parses request lines incrementally; yields the request and any bytes after the newline. */
export class RequestParser {
  private head = "";
  /** The parsed request, once the newline has arrived. */
  request: { kind: RequestKind; n: number } | undefined;

  /** Feeds bytes; returns the bytes that follow the request line (empty until it is complete). */
  push(bytes: Uint8Array): Uint8Array {
    if (this.request) return bytes;
    const nl = bytes.indexOf(10);
    if (nl < 0) {
      this.head += new TextDecoder().decode(bytes);
      if (this.head.length > 64) throw new Error("request line too long");
      return new Uint8Array(0);
    }
    this.head += new TextDecoder().decode(bytes.subarray(0, nl));
    const m = /^([DUE]) (\d+)$/.exec(this.head);
    if (!m) throw new Error(`bad request line ${JSON.stringify(this.head)}`);
    this.request = { kind: m[1] as RequestKind, n: Number(m[2]) };
    return bytes.subarray(nl + 1);
  }
}
