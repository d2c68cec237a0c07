import { qscaleVitestConfig } from '@qscale/vitest-config';

export default qscaleVitestConfig();
