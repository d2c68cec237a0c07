import type { ListOption, StringOption } from '../internal/spec.js';

// Options several commands share, declared once so they read the same everywhere.

/** The queue systems qscale reads (a test checks this against @qscale/contracts). */
export const DRIVERS = ['laravel', 'bullmq', 'sidekiq', 'rq', 'celery'] as const;

/** Where the queues are: `queues` and `top`. */
export const SOURCE_OPTIONS = {
  config: {
    type: 'string',
    short: 'c',
    placeholder: 'FILE',
    description: 'read the queues of this configuration (--queue picks some of them)',
    defaultText: 'qscale.yml, unless --redis is given',
  },
  redis: {
    type: 'string',
    placeholder: 'URL',
    description: 'read a Redis directly instead of a configuration; needs --driver',
  },
  driver: {
    type: 'string',
    choices: DRIVERS,
    description: 'the queue system to read, with --redis',
  },
  prefix: {
    type: 'string',
    placeholder: 'PREFIX',
    description: 'the key prefix of the queues, with --redis',
    defaultText: "the driver's own, e.g. bull for BullMQ",
  },
  queue: {
    type: 'list',
    short: 'q',
    placeholder: 'NAME',
    description: 'only these queues',
    defaultText:
      'every queue of the configuration, or with --redis every queue of the driver found there',
  },
} as const satisfies Record<string, StringOption | ListOption>;

/** How to reach a running daemon: `top` and `status`. */
export const DAEMON_OPTIONS = {
  url: {
    type: 'string',
    placeholder: 'URL',
    description: "the running daemon's status API",
    defaultText: 'the http block of --config, else http://127.0.0.1:9730',
  },
  token: {
    type: 'string',
    placeholder: 'TOKEN',
    description:
      "the daemon's bearer token; prefer QSCALE_TOKEN, which stays out of the process list",
    defaultText: "QSCALE_TOKEN, else the configuration's http.token",
  },
} as const satisfies Record<string, StringOption>;

export const JSON_OPTION = {
  type: 'boolean',
  description: 'print JSON instead of text',
} as const;
