/**
 * The QPACK dynamic table (RFC 9204 section 3.2): a FIFO of field lines with
 * absolute indices (section 3.2.4), a size counted as name + value + 32
 * bytes per entry (section 3.2.1), and a capacity set by the encoder under
 * the decoder's maximum (sections 3.2.2 and 3.2.3). The decoder uses it as
 * is; the encoder adds reference counts and lookups.
 */

/** Per-entry overhead added to the name and value lengths (RFC 9204 section 3.2.1). */
export const ENTRY_OVERHEAD = 32;

/** Size of an entry: name and value lengths in bytes plus 32 (RFC 9204 section 3.2.1). */
export function entrySize(name: string, value: string): number {
  return name.length + value.length + ENTRY_OVERHEAD;
}

/**
 * MaxEntries = floor(MaxTableCapacity / 32) (RFC 9204 section 4.5.1.1):
 * the most entries a table of that capacity can hold.
 */
export function maxEntries(maxTableCapacity: number): number {
  return Math.floor(maxTableCapacity / ENTRY_OVERHEAD);
}

/** A dynamic table entry. */
export interface TableEntry {
  readonly name: string;
  readonly value: string;
  /** name + value + 32 bytes. */
  readonly size: number;
  /** Bytes inserted into the table before this entry (all time), for the encoder's draining rule. */
  readonly start: number;
  /** Encoder only: references from field sections not yet acknowledged (RFC 9204 section 2.1.1). */
  refs: number;
}

/**
 * Entries live in an array from `head` on; evicting advances `head`, and
 * the array is compacted when more than half of it is dead, so insertion
 * and eviction are amortised O(1).
 */
export class DynamicTable {
  /** Current capacity (RFC 9204 section 3.2.2); starts at 0. */
  capacity = 0;
  /** Sum of the entries' sizes. */
  size = 0;
  /** Number of insertions so far: the absolute index the next entry gets. */
  insertCount = 0;
  /** Bytes inserted so far (all time). */
  insertedBytes = 0;

  private entries: (TableEntry | undefined)[] = [];
  private head = 0;

  /** Number of entries in the table. */
  get length(): number {
    return this.entries.length - this.head;
  }

  /** Absolute index of the oldest entry (= number of entries evicted). */
  get dropped(): number {
    return this.insertCount - this.length;
  }

  /** True when absolute index `abs` is in the table (inserted and not evicted). */
  has(abs: number): boolean {
    return abs >= this.dropped && abs < this.insertCount;
  }

  /** The entry at absolute index `abs`; the caller checks {@link has} first. */
  entry(abs: number): TableEntry {
    return this.entries[this.head + abs - this.dropped]!;
  }

  /** Name of the entry at absolute index `abs`; the caller checks {@link has} first. */
  name(abs: number): string {
    return this.entries[this.head + abs - this.dropped]!.name;
  }

  /** Value of the entry at absolute index `abs`; the caller checks {@link has} first. */
  value(abs: number): string {
    return this.entries[this.head + abs - this.dropped]!.value;
  }

  /** Evicts the oldest entries until the size is at most `limit` (RFC 9204 section 3.2.2). */
  evictTo(limit: number): void {
    while (this.size > limit && this.head < this.entries.length) {
      const abs = this.dropped;
      const e = this.entries[this.head]!;
      this.entries[this.head++] = undefined;
      this.size -= e.size;
      this.onEvict(abs, e);
    }
    if (this.head > 32 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Hook for subclasses: entry `abs` was just evicted. */
  protected onEvict(_abs: number, _entry: TableEntry): void {}

  /**
   * Evicts as needed and appends an entry; returns its absolute index. The
   * caller has checked that the entry fits the capacity.
   */
  insert(name: string, value: string): number {
    const size = entrySize(name, value);
    this.evictTo(this.capacity - size);
    this.entries.push({ name, value, size, start: this.insertedBytes, refs: 0 });
    this.size += size;
    this.insertedBytes += size;
    return this.insertCount++;
  }
}
