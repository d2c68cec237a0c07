/** Keeps the last `capacity` items, oldest first; memory stays bounded however long it runs. */
export class RingBuffer<T> {
  readonly #items: T[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a whole number >= 1, got ${capacity}`);
    }
  }

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.capacity) this.#items.shift();
  }

  /** A copy, oldest first. */
  toArray(): T[] {
    return [...this.#items];
  }

  get size(): number {
    return this.#items.length;
  }
}
