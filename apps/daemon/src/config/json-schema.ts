import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * The JSON Schema of the configuration file (what users write, durations as strings),
 * generated from the zod schema so the two can never disagree. Shipped as
 * `@qscale/daemon/schema.json` for editors.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'qscale configuration',
    description:
      'Configuration of the qscale daemon (qscaled): Redis, limits and the queues it scales.',
  };
}
