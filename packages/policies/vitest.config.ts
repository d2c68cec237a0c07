import { qscaleVitestConfig } from '@qscale/vitest-config';

// Empty until its issue lands; remove passWithNoTests with the first test.
export default qscaleVitestConfig({ passWithNoTests: true });
