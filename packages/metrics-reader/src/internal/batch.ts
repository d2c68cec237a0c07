import type { Reply, Sendable } from './connection.js';

/** Commands of one round trip, each with the handler its reply goes to. */
export class Batch {
  readonly commands: Sendable[] = [];
  private readonly handlers: ((reply: Reply) => void)[] = [];

  add(command: Sendable, handler: (reply: Reply) => void): void {
    this.commands.push(command);
    this.handlers.push(handler);
  }

  get size(): number {
    return this.commands.length;
  }

  /** Hands each reply to its handler, in order. */
  dispatch(replies: readonly Reply[]): void {
    for (let index = 0; index < this.handlers.length; index++) {
      const reply = index < replies.length ? replies[index] : new Error('no reply from Redis');
      this.handlers[index]?.(reply);
    }
  }

  /** Gives every handler the same failure (the round trip itself failed). */
  fail(error: Error): void {
    for (const handler of this.handlers) handler(error);
  }
}
