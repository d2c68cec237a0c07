import type { GroupDiscipline } from '@qscale/contracts';
import { type ClassLoad, poolWorkersFor, predictedMiss } from './internal/group-queueing.js';

/** One member queue's steady load and SLO, for `groupSteadyState`. */
export interface GroupClass {
  /** Jobs arriving per second. */
  arrivalRate: number;
  /** Mean service time, ms. */
  serviceTimeMs: number;
  /** The SLO: P(pickup wait > pickupMs) <= 1 - percentile / 100. */
  pickupMs: number;
  percentile: number;
  /** Allen-Cunneen factor (1 + Cs^2) / 2 of the service time. @defaultValue 1 (exponential) */
  variability?: number;
}

/**
 * The steady-state part of group sizing, on its own: per member, the fewest workers of the
 * shared pool that meet its SLO under the discipline (the `pooledSteady` term of
 * `createGroupStrategy`), and the model's P(wait > SLO) of every member at the largest of them.
 * For capacity planning, and to check the model against a simulation.
 */
export function groupSteadyState(
  discipline: GroupDiscipline,
  classes: readonly GroupClass[],
  options: { concurrency?: number; maxWorkers?: number } = {},
): { workers: number; perMember: { workers: number; feasible: boolean; predictedMiss: number }[] } {
  const concurrency = options.concurrency ?? 1;
  const maxWorkers = options.maxWorkers ?? 1_000;
  const loads: ClassLoad[] = classes.map((c) => ({
    arrivalRate: c.arrivalRate,
    serviceTimeMs: c.serviceTimeMs,
  }));
  const target = (c: GroupClass) => ({
    waitMs: c.pickupMs,
    percentile: c.percentile,
    variability: c.variability ?? 1,
  });
  const sized = classes.map((c, k) =>
    poolWorkersFor(discipline, loads, k, target(c), concurrency, maxWorkers),
  );
  const workers = Math.max(0, ...sized.map((s) => s.workers));
  return {
    workers,
    perMember: sized.map((s, k) => ({
      workers: s.workers,
      feasible: s.feasible,
      predictedMiss: predictedMiss(
        discipline,
        loads,
        k,
        target(classes[k] as GroupClass),
        workers * concurrency,
      ),
    })),
  };
}
