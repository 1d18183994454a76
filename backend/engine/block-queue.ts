/**
 * An ordered set of block ids with O(1) push-back, pop-front and remove-anywhere: a doubly linked
 * list threaded through two typed arrays. (A JS Set would do the same in principle, but popping
 * its first entry walks over the holes earlier deletions left, which grows with churn.)
 */
const NONE = -1;

export class BlockQueue {
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly member: Uint8Array;
  private head = NONE;
  private tail = NONE;
  private count = 0;

  constructor(capacity: number) {
    this.prev = new Int32Array(capacity).fill(NONE);
    this.next = new Int32Array(capacity).fill(NONE);
    this.member = new Uint8Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    return this.member[id] === 1;
  }

  pushBack(id: number): void {
    if (this.member[id]) throw new Error(`block ${id} is already queued`);
    this.member[id] = 1;
    this.prev[id] = this.tail;
    this.next[id] = NONE;
    if (this.tail === NONE) this.head = id;
    else this.next[this.tail] = id;
    this.tail = id;
    this.count++;
  }

  /** The oldest id, removed; undefined when empty. */
  popFront(): number | undefined {
    if (this.head === NONE) return undefined;
    const id = this.head;
    this.remove(id);
    return id;
  }

  remove(id: number): void {
    if (!this.member[id]) throw new Error(`block ${id} is not queued`);
    const before = this.prev[id]!;
    const after = this.next[id]!;
    if (before === NONE) this.head = after;
    else this.next[before] = after;
    if (after === NONE) this.tail = before;
    else this.prev[after] = before;
    this.member[id] = 0;
    this.count--;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let id = this.head; id !== NONE; id = this.next[id]!) yield id;
  }
}
