import { defineConfig } from 'vitest/config';

/**
 * The one vitest preset every package uses. Tests talk to a real Redis and spawn real
 * processes, so timeouts are generous; speed is measured in bench/, never asserted here.
 */
export function qscaleVitestConfig(overrides = {}) {
  return defineConfig({
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 30_000,
      allowOnly: false,
      passWithNoTests: false,
      restoreMocks: true,
      ...overrides,
    },
  });
}
