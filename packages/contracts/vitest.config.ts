import { qscaleVitestConfig } from '@qscale/vitest-config';

// Pure code (no process, Redis, timers or globals): the test files share one module graph in
// worker threads instead of re-importing it in a fresh child process per file.
export default qscaleVitestConfig({ pool: 'threads', isolate: false });
