import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig } from '../src/index.js';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

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
});
