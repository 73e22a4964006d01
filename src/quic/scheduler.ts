/**
 * Scheduling for an endpoint with many connections: which ones may have
 * something to send, and whose timer expires first, each in O(log n) per
 * event rather than a scan of every connection.
 */

interface HeapEntry<T> {
  at: number;
  item: T;
}

/**
 * A set of items, each with at most one deadline, that yields the earliest
 * deadline and the items due at a time. Changing a deadline pushes a new
 * heap entry; the old one is skipped when it surfaces (lazy deletion), so
 * the heap may hold stale entries until they reach the top. It is rebuilt
 * when it grows past twice the number of items, which bounds its size.
 * (Two entries with an item's current deadline are harmless: popping one
 * clears the deadline, which makes the other stale.)
 */
export class DeadlineHeap<T> {
  private readonly heap: HeapEntry<T>[] = [];
  private readonly current = new Map<T, number>();

  /** Number of items with a deadline. */
  get size(): number {
    return this.current.size;
  }

  /** Sets (or with undefined, clears) the deadline of `item`. */
  set(item: T, at: number | undefined): void {
    if (at === undefined || at === Infinity) {
      this.current.delete(item);
      return;
    }
    if (this.current.get(item) === at) return;
    this.current.set(item, at);
    this.push({ at, item });
    if (this.heap.length > 64 && this.heap.length > 2 * this.current.size) this.rebuild();
  }

  /** Forgets `item`. */
  delete(item: T): void {
    this.current.delete(item);
  }

  /** The earliest deadline, or undefined. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap.length > 0 ? this.heap[0]!.at : undefined;
  }

  /** Removes and returns an item whose deadline is at or before `now`, or undefined. */
  popDue(now: number): T | undefined {
    this.dropStale();
    const top = this.heap[0];
    if (!top || top.at > now) return undefined;
    this.pop();
    this.current.delete(top.item);
    return top.item;
  }

  private isStale(e: HeapEntry<T>): boolean {
    return this.current.get(e.item) !== e.at;
  }

  private dropStale(): void {
    while (this.heap.length > 0 && this.isStale(this.heap[0]!)) this.pop();
  }

  private rebuild(): void {
    const entries = this.heap.splice(0);
    const kept = new Set<T>();
    for (const e of entries) {
      // One entry per item, the one with its current deadline.
      if (this.isStale(e) || kept.has(e.item)) continue;
      kept.add(e.item);
      this.push(e);
    }
  }

  private push(e: HeapEntry<T>): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!(h[p]!.at > e.at)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (!(h[c]!.at < last.at)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
