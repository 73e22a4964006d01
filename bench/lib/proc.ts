// Child processes of the benchmark orchestrator. Every process started here
// is registered and stopped (SIGTERM, then SIGKILL) when its benchmark
// ends, when it outlives its time limit, and when the orchestrator exits
// or is interrupted: a benchmark never leaves a server behind.
import { spawn, type ChildProcess } from "node:child_process";
import dgram from "node:dgram";
import { readFileSync } from "node:fs";

/** A message a child printed: one JSON object per stdout line. */
export type Message = Record<string, unknown>;

/** How to start a process. */
export interface ProcOptions {
  /** Short name for logs and errors. */
  name: string;
  cmd: string;
  args: string[];
  /** Hard limit: the process is killed after this long. */
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const live = new Set<Proc>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Synchronous kill on exit: nothing asynchronous runs in an exit handler.
  process.on("exit", () => {
    for (const p of live) p.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      for (const p of live) p.kill("SIGKILL");
      process.exit(130);
    });
  }
}

/** A running child with its output collected and its JSON messages parsed. */
export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Wall-clock ms from spawn to exit (set on exit). */
  wallMs: number | undefined;
  /** True if the time limit killed it. */
  timedOut = false;
  private readonly started = performance.now();
  private readonly messages: Message[] = [];
  private readonly waiters = new Set<() => void>();
  private output = "";
  private stdoutRest = "";
  private exitedFlag = false;
  private readonly limit: NodeJS.Timeout;

  constructor(o: ProcOptions) {
    installHandlers();
    this.name = o.name;
    this.child = spawn(o.cmd, o.args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    live.add(this);
    this.child.stdout!.on("data", (d: Buffer) => this.onStdout(d.toString()));
    this.child.stderr!.on("data", (d: Buffer) => this.append(d.toString()));
    // A child that exits before reading stdin must not crash us with EPIPE.
    this.child.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.wallMs = performance.now() - this.started;
        this.exitedFlag = true;
        live.delete(this);
        clearTimeout(this.limit);
        this.wake();
        resolve({ code, signal });
      });
      this.child.on("error", (err) => {
        this.append(`spawn error: ${err.message}\n`);
        this.wallMs = performance.now() - this.started;
        this.exitedFlag = true;
        live.delete(this);
        clearTimeout(this.limit);
        this.wake();
        resolve({ code: -1, signal: null });
      });
    });
    this.limit = setTimeout(() => {
      this.timedOut = true;
      this.kill("SIGKILL");
    }, o.timeoutMs);
  }

  /** Process ID (undefined if spawning failed). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.exitedFlag;
  }

  private append(s: string): void {
    // Keep the tail only: enough to explain a failure, bounded in memory.
    this.output = (this.output + s).slice(-20_000);
  }

  private onStdout(s: string): void {
    this.append(s);
    const text = this.stdoutRest + s;
    const lines = text.split("\n");
    this.stdoutRest = lines.pop()!;
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        this.messages.push(JSON.parse(line) as Message);
      } catch {
        // Not one of our messages.
      }
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The last lines of output, for error messages. */
  tail(chars = 1500): string {
    return this.output.slice(-chars).trim();
  }

  /**
   * Waits for (and consumes) the first message matching `predicate`.
   * Rejects when the child reports {"error":...}, exits first, or after `timeoutMs`.
   */
  message(predicate: (m: Message) => boolean, timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const i = this.messages.findIndex((m) => predicate(m) || "error" in m);
        if (i >= 0) {
          const m = this.messages.splice(i, 1)[0]!;
          done();
          if ("error" in m && !predicate(m)) reject(new Error(`${this.name}: ${String(m.error)}`));
          else resolve(m);
          return true;
        }
        if (this.exitedFlag) {
          done();
          reject(new Error(`${this.name} exited${this.timedOut ? " (time limit)" : ""} before reporting; output:\n${this.tail()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no report within ${timeoutMs} ms; output:\n${this.tail()}`));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      check();
    });
  }

  /** Waits for the child's {"result":...} message and returns the result. */
  async result(timeoutMs: number): Promise<Record<string, unknown>> {
    const m = await this.message((x) => "result" in x, timeoutMs);
    return m.result as Record<string, unknown>;
  }

  /** Writes one command line to the child's stdin. */
  send(line: string): void {
    this.child.stdin!.write(line + "\n");
  }

  /** Sends a signal if the process is still running. */
  kill(signal: NodeJS.Signals): void {
    if (!this.exitedFlag && this.child.pid !== undefined) {
      try {
        this.child.kill(signal);
      } catch {
        // Already gone.
      }
    }
  }

  /** Closes stdin (our children exit when it closes) and waits up to `timeoutMs` for a clean exit, then stops the process. */
  async finish(timeoutMs: number): Promise<void> {
    this.child.stdin!.end();
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, timeoutMs))]);
    await this.stop();
  }

  /** Stops the process: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exitedFlag) return;
    this.child.stdin!.end();
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(t);
  }

  /** CPU seconds (user + system) the process has used so far, from /proc (Linux). */
  cpuSeconds(): number | undefined {
    return this.pid === undefined ? undefined : cpuSecondsOf(this.pid);
  }
}

/** Starts a process (registered for cleanup). */
export function startProc(o: ProcOptions): Proc {
  return new Proc(o);
}

/** Stops every process still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Clock ticks per second of /proc/<pid>/stat times; 100 on Linux (USER_HZ). */
const CLK_TCK = 100;

/** CPU seconds (user + system) of a process, or undefined when /proc is unavailable. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ")".
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Resolves once something is bound to UDP 127.0.0.1:port (a server without a readiness message, such as ngtcp2's). */
export async function waitUdpBound(port: number, timeoutMs: number, proc?: Proc): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const inUse = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket("udp4");
      s.once("error", () => {
        s.close();
        resolve(true);
      });
      s.bind({ port, address: "127.0.0.1", exclusive: true }, () => s.close(() => resolve(false)));
    });
    if (inUse) return;
    if (proc?.hasExited) throw new Error(`${proc.name} exited before binding port ${port}:\n${proc.tail()}`);
    if (performance.now() > deadline) throw new Error(`nothing bound UDP port ${port} within ${timeoutMs} ms${proc ? `:\n${proc.tail()}` : ""}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
