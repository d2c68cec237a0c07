/**
 * Every system the real-client bench runs (bench/metrics-reader/real-clients.ts). Add yours
 * here (one line) when its plugin and test pass.
 */
import { bullmq5, bullmq6 } from './bullmq.js';
import { celery, celeryAcksLate } from './celery.js';
import type { RealSystem } from './harness.js';
import { laravel8, laravelHorizonPayload } from './laravel.js';
import { rq } from './rq.js';
import { sidekiq6 } from './sidekiq.js';

export const SYSTEMS: RealSystem[] = [
  rq,
  bullmq5,
  bullmq6,
  laravel8,
  laravelHorizonPayload,
  celery,
  celeryAcksLate,
  sidekiq6,
];
