// The one chain that ticks and reloads go through, so that a tick and a reload never
// interleave: a reload sees no tick half done, and a tick never sees half a reload.

export interface SerialChain {
  /** Runs `work` once everything queued before it has settled (failed work does not block). */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Settles when everything queued so far has settled; never rejects. */
  idle(): Promise<unknown>;
}

export function createSerialChain(): SerialChain {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    run: <T>(work: () => Promise<T>): Promise<T> => {
      const run = chain.then(work, work);
      chain = run.catch(() => {});
      return run;
    },
    idle: () => chain,
  };
}
