import type { ViteUserConfig } from 'vitest/config';
import type { InlineConfig } from 'vitest/node';

export function qscaleVitestConfig(overrides?: InlineConfig): ViteUserConfig;
