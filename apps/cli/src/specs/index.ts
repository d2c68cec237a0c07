import type { CommandSpec } from '../internal/spec.js';
import { auditCommand } from './audit.js';
import { demoCommand } from './demo.js';
import { initCommand } from './init.js';
import { queuesCommand } from './queues.js';
import { resourcesCommand } from './resources.js';
import { scalerCommand } from './scaler.js';
import { simulateCommand } from './simulate.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { topCommand } from './top.js';
import { validateCommand } from './validate.js';

/**
 * Every `qscale` command, in the order `qscale --help` lists them: declarations only. Each
 * command's code is imported by its load() when it runs, so `--help` stays fast.
 */
export const COMMANDS: readonly CommandSpec[] = [
  validateCommand,
  initCommand,
  queuesCommand,
  topCommand,
  statusCommand,
  resourcesCommand,
  auditCommand,
  simulateCommand,
  startCommand,
  scalerCommand,
  demoCommand,
];
