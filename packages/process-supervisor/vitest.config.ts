import { qscaleVitestConfig } from '@qscale/vitest-config';

// Process tests spawn real workers on a machine shared with other suites: one file at a time.
export default qscaleVitestConfig({ fileParallelism: false });
