import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  checkConfig,
  configWarnings,
  formatProblem,
  loadConfig,
} from '../src/index.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const AS_ROOT = process.getuid?.() === 0;

/** What qscaled (and `qscale validate`) would refuse the example for on this host. */
async function hostProblems(folder: string): Promise<string[]> {
  const config = await loadConfig(`${examples}${folder}/qscale.yml`, { env: {} });
  try {
    await checkConfig(config);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.code).toBe('CONFIG_UNUSABLE');
    return error.problems.map(formatProblem);
  }
}

describe('the example configurations', async () => {
  const folders = (await readdir(examples, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
  const withConfig: string[] = [];
  for (const folder of folders) {
    const files = await readdir(`${examples}${folder}`);
    if (files.includes('qscale.yml')) withConfig.push(folder);
  }

  it('covers the demo, BullMQ and Laravel', () => {
    expect(withConfig.sort()).toEqual(['bullmq', 'demo', 'laravel']);
  });

  it.each(withConfig)(
    'examples/%s/qscale.yml is valid, without warnings, with no variable set',
    async (folder) => {
      const config = await loadConfig(`${examples}${folder}/qscale.yml`, { env: {} });
      expect(config.queues.length).toBeGreaterThan(0);
      expect(configWarnings(config)).toEqual([]);
      for (const queue of config.queues) expect(queue.command.length).toBeGreaterThan(0);
    },
  );

  it('examples/demo passes every check qscaled runs at start, as root too', async () => {
    expect(await hostProblems('demo')).toEqual([]);
  });

  it('examples/bullmq passes them as a user; as root it is refused with how to fix it', async () => {
    const refusal = (queue: string, at: string) =>
      `queues.${queue}.user: workers would run as root and supervision.refuseRoot is on: set user (and group) here or under defaults to the account the workers run as, or start qscaled as that account (${examples}bullmq/qscale.yml:${at})`;
    expect(await hostProblems('bullmq')).toEqual(
      AS_ROOT ? [refusal('emails', '30:5'), refusal('thumbnails', '35:5')] : [],
    );
  });

  it('examples/laravel is refused only for what a host without the application lacks', async () => {
    for (const problem of await hostProblems('laravel')) {
      expect(problem).toMatch(
        /^queues\.\w+\.(cwd: working directory \/srv\/app\/current does not exist|command: command "php" was not found|user: )/,
      );
    }
  });
});
