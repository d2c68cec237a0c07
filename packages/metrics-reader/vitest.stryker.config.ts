import { qscaleVitestConfig } from '@qscale/vitest-config';

// Mutation testing (stryker.config.json) runs every test once per mutant that it covers: the
// driver tests only. The accuracy load runs (about a minute each) and the connection outage
// tests would put a BullMQ or Laravel mutant at a minute or more, the whole run at a day.
export default qscaleVitestConfig({
  include: [
    'src/**/*.test.ts',
    'test/bullmq.test.ts',
    'test/bullmq-measures.test.ts',
    'test/bullmq-events.test.ts',
    'test/laravel.test.ts',
    'test/sidekiq.test.ts',
    'test/rq.test.ts',
    'test/celery.test.ts',
    'test/celery-held.test.ts',
    'test/celery-probe.test.ts',
    'test/ready.test.ts',
    'test/cost.test.ts',
  ],
});
