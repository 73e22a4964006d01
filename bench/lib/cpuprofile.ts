// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per
// function, mapping compiled dist/ locations back to the TypeScript source
// through the emitted source maps, so the table names src/...ts lines.
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ProfileSide } from "./report.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decoded source map: for each generated line, segments [column, sourceIndex, line, column]. */
interface DecodedMap {
  sources: string[];
  lines: number[][][];
}

function decodeMappings(mappings: string): number[][][] {
  const out: number[][][] = [];
  let src = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const line of mappings.split(";")) {
    const segs: number[][] = [];
    let genCol = 0;
    for (const seg of line.split(",")) {
      if (!seg) continue;
      const vals: number[] = [];
      let shift = 0;
      let value = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) {
          shift += 5;
        } else {
          vals.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += vals[0]!;
      if (vals.length >= 4) {
        src += vals[1]!;
        srcLine += vals[2]!;
        srcCol += vals[3]!;
        segs.push([genCol, src, srcLine, srcCol]);
      }
    }
    out.push(segs);
  }
  return out;
}

const maps = new Map<string, DecodedMap | null>();

function loadMap(jsPath: string): DecodedMap | null {
  if (maps.has(jsPath)) return maps.get(jsPath)!;
  let m: DecodedMap | null = null;
  try {
    const mapPath = jsPath + ".map";
    if (existsSync(mapPath)) {
      const raw = JSON.parse(readFileSync(mapPath, "utf8")) as { sources: string[]; mappings: string; sourceRoot?: string };
      m = { sources: raw.sources.map((s) => resolve(dirname(mapPath), raw.sourceRoot ?? "", s)), lines: decodeMappings(raw.mappings) };
    }
  } catch {
    m = null;
  }
  maps.set(jsPath, m);
  return m;
}

/** Maps a 0-based generated position to "file:line" of the original source, relative to `root`. */
function originalLocation(root: string, url: string, line: number, column: number): string {
  if (!url) return "(native)";
  if (!url.startsWith("file://")) return url;
  const jsPath = fileURLToPath(url);
  const m = loadMap(jsPath);
  const segs = m?.lines[line];
  if (m && segs && segs.length > 0) {
    // The last segment starting at or before the column; else the line's first one.
    let best = segs[0]!;
    for (const s of segs) if (s[0]! <= column) best = s;
    return `${relative(root, m.sources[best[1]!]!)}:${best[2]! + 1}`;
  }
  return `${relative(root, jsPath)}:${line + 1}`;
}

/** Sums self time per function of a profile; the top `limit` entries and per-file totals. */
export function summarizeProfile(path: string, side: string, root: string, limit = 20): ProfileSide {
  const p = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Native and Node-internal time is attributed to the nearest project frame above it, so the table says who called it.
  const distPrefix = pathToFileURL(root).href + "/dist/";
  const callerOf = (id: number): string | undefined => {
    for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.url.startsWith(distPrefix)) return `${f.functionName || "(anonymous)"} ${originalLocation(root, f.url, f.lineNumber, f.columnNumber)}`;
    }
    return undefined;
  };
  let idle = 0;
  let busy = 0;
  const byFunction = new Map<string, { function: string; location: string; us: number }>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    let location = originalLocation(root, f.url, f.lineNumber, f.columnNumber);
    const fn = f.functionName || "(anonymous)";
    if (!f.url.startsWith(distPrefix)) {
      const caller = callerOf(id);
      if (caller) location += `, from ${caller}`;
    }
    const key = `${fn} ${location}`;
    const e = byFunction.get(key) ?? { function: fn, location, us: 0 };
    e.us += us;
    byFunction.set(key, e);
    const file = f.url ? originalLocation(root, f.url, f.lineNumber, f.columnNumber).replace(/:\d+$/, "") : fn;
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const pct = (us: number): number => (busy > 0 ? (us / busy) * 100 : 0);
  return {
    side,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    entries: [...byFunction.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, limit)
      .map((e) => ({ function: e.function, location: e.location, selfMs: e.us / 1000, percent: pct(e.us) })),
    files: [...byFile.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([file, us]) => ({ file, selfMs: us / 1000, percent: pct(us) })),
  };
}
