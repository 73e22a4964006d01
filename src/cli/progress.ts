/** One download the progress display tracks. */
export interface ProgressItem {
  name: string;
  received: number;
  /** Total bytes when known (content-length). */
  total: number | undefined;
  done: boolean;
  failed: boolean;
}

/**
 * A multi-line progress display for downloads, drawn on a terminal only:
 * when output is piped it stays silent, so scripts see nothing but errors
 * and the final summary they ask for.
 */
export class ProgressDisplay {
  private readonly items: ProgressItem[] = [];
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly enabled: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.enabled = out.isTTY === true;
  }

  /** Adds a line for `name`. */
  add(name: string, total?: number): ProgressItem {
    const item: ProgressItem = { name, received: 0, total, done: false, failed: false };
    this.items.push(item);
    if (this.enabled && !this.timer) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
    return item;
  }

  /** Draws the final state and stops refreshing. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled) this.draw();
  }

  private draw(): void {
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 50));
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F` : "";
    for (const it of this.items) {
      const frac = it.total ? Math.min(1, it.received / it.total) : it.done ? 1 : 0;
      const filled = Math.round(frac * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      const size = it.total ? `${formatBytes(it.received)}/${formatBytes(it.total)}` : formatBytes(it.received);
      const state = it.failed ? "failed" : it.done ? "done" : `${Math.round(frac * 100)}%`;
      text += `\x1b[2K${it.name.slice(-30).padEnd(30)} [${bar}] ${size.padStart(17)} ${state}\n`;
    }
    this.drawnLines = this.items.length;
    this.out.write(text);
  }
}

/** Human-readable byte count: 512 B, 1.5 KiB, 20.0 MiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(2)} GiB`;
}
