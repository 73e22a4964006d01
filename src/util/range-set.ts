/**
 * A set of non-negative integers stored as sorted, disjoint, non-adjacent
 * half-open ranges [start, end). Used for received packet numbers (ACK
 * ranges), received stream offsets and acknowledged stream data.
 *
 * Ranges live in two parallel number arrays so that insertions near the end
 * (the common case: in-order arrival) cost O(1) and allocate nothing.
 */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];

  /** Number of disjoint ranges. */
  get size(): number {
    return this.starts.length;
  }

  /** True when the set holds nothing. */
  get empty(): boolean {
    return this.starts.length === 0;
  }

  /** Start of range `i` (ascending order). */
  start(i: number): number {
    return this.starts[i]!;
  }

  /** End (exclusive) of range `i`. */
  end(i: number): number {
    return this.ends[i]!;
  }

  /** Smallest member, or -1 when empty. */
  get min(): number {
    return this.starts.length ? this.starts[0]! : -1;
  }

  /** One past the largest member, or 0 when empty. */
  get max(): number {
    return this.ends.length ? this.ends[this.ends.length - 1]! : 0;
  }

  /** Index of the first range whose end is >= v (binary search). */
  private lowerIndex(v: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds [start, end). Returns the number of values that were not already present. */
  add(start: number, end: number): number {
    if (end <= start) return 0;
    const n = this.starts.length;
    // Fast path: append at or after the last range.
    if (n === 0 || start > this.ends[n - 1]!) {
      this.starts.push(start);
      this.ends.push(end);
      return end - start;
    }
    // Fast path: extending the last range (in-order arrival) without splicing.
    if (start >= this.starts[n - 1]!) {
      const lastEnd = this.ends[n - 1]!;
      if (end <= lastEnd) return 0;
      this.ends[n - 1] = end;
      return end - lastEnd;
    }
    let i = this.lowerIndex(start);
    // Ranges i..j-1 touch or overlap [start, end).
    let j = i;
    let covered = 0;
    let newStart = start;
    let newEnd = end;
    while (j < n && this.starts[j]! <= end) {
      const s = this.starts[j]!;
      const e = this.ends[j]!;
      covered += Math.max(0, Math.min(e, end) - Math.max(s, start));
      if (s < newStart) newStart = s;
      if (e > newEnd) newEnd = e;
      j++;
    }
    if (j === i) {
      this.starts.splice(i, 0, newStart);
      this.ends.splice(i, 0, newEnd);
    } else {
      this.starts.splice(i, j - i, newStart);
      this.ends.splice(i, j - i, newEnd);
    }
    return end - start - covered;
  }

  /** Removes [start, end). */
  remove(start: number, end: number): void {
    if (end <= start || this.starts.length === 0) return;
    const out: Array<[number, number]> = [];
    let i = this.lowerIndex(start + 1);
    const first = i;
    while (i < this.starts.length && this.starts[i]! < end) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (s < start) out.push([s, start]);
      if (e > end) out.push([end, e]);
      i++;
    }
    if (i === first) return;
    this.starts.splice(first, i - first, ...out.map((r) => r[0]));
    this.ends.splice(first, i - first, ...out.map((r) => r[1]));
  }

  /** Removes every value below `v` (e.g. packet numbers no longer worth acknowledging). */
  removeBelow(v: number): void {
    if (this.starts.length === 0 || this.starts[0]! >= v) return;
    this.remove(0, v);
  }

  /** True when `v` is in the set. */
  has(v: number): boolean {
    const i = this.lowerIndex(v + 1);
    return i < this.starts.length && this.starts[i]! <= v;
  }

  /** True when every value of [start, end) is in the set. */
  covers(start: number, end: number): boolean {
    if (end <= start) return true;
    const i = this.lowerIndex(start + 1);
    return i < this.starts.length && this.starts[i]! <= start && this.ends[i]! >= end;
  }

  /** Drops the lowest ranges until at most `maxRanges` remain. */
  trimTo(maxRanges: number): void {
    const extra = this.starts.length - maxRanges;
    if (extra > 0) {
      this.starts.splice(0, extra);
      this.ends.splice(0, extra);
    }
  }

  /** Removes everything. */
  clear(): void {
    this.starts.length = 0;
    this.ends.length = 0;
  }

  /** Ranges as [start, end) pairs, ascending. */
  toArray(): Array<[number, number]> {
    return this.starts.map((s, i) => [s, this.ends[i]!]);
  }
}
