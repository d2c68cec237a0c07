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

  /** Removes one item (by identity); false when it is no longer kept. */
  remove(item: T): boolean {
    const index = this.#items.indexOf(item);
    if (index >= 0) this.#items.splice(index, 1);
    return index >= 0;
  }

  /** A copy, oldest first. */
  toArray(): T[] {
    return [...this.#items];
  }

  get size(): number {
    return this.#items.length;
  }
}
