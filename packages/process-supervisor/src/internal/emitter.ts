import type { Logger } from '@qscale/contracts';

type Listener<Payload> = (payload: Payload) => void;

/**
 * A small typed event emitter. A listener that throws is logged and skipped: a bug in the
 * daemon's metrics code must never break the supervision of a worker mid-transition.
 */
export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on<Name extends keyof Events>(name: Name, listener: Listener<Events[Name]>): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener as Listener<never>);
    return () => {
      set.delete(listener as Listener<never>);
    };
  }

  emit<Name extends keyof Events>(name: Name, payload: Events[Name]): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[Name]>)(payload);
      } catch (error) {
        this.#logger.error('event listener threw', {
          event: String(name),
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }
}
