import type { DaemonContext } from '../daemon-context.js';
import { servingRuntime } from '../runtime/group-runtime.js';
import type { VerdictSource } from './service.js';

// What KEDA's external scaler (service.ts) answers from, when the daemon serves it: the
// decisions of this loop, read from the queues' runtimes, and a push after every tick. The
// scaler makes no decision of its own, so KEDA and `/api/state` never disagree.

export function loopVerdicts(ctx: DaemonContext): VerdictSource {
  const { runtimes, tickListeners } = ctx;
  return {
    queues: () => ctx.config.queues.map((queue) => queue.name),
    groupOf: (queue) => {
      const serving = servingRuntime(runtimes, queue);
      return serving?.config.workerGroup ? serving.config.name : undefined;
    },
    verdict: (queue) => {
      const runtime = runtimes.get(queue);
      if (!runtime) return undefined;
      return runtime.lastDecision ? { desired: runtime.lastDecision.to } : null;
    },
    onTick: (listener) => {
      tickListeners.add(listener);
      return () => tickListeners.delete(listener);
    },
  };
}
