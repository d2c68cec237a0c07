#!/usr/bin/env node
import { runDaemon } from './run.js';

// `qscaled 2>&1 | head`: a closed pipe must cost the output, never the daemon and its workers
// (an 'error' event nobody listens to is an uncaught exception). The logger stops writing on
// its own; this covers every other writer, such as Node's warnings on stderr.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const code = await runDaemon(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Everything is stopped and closed by now; exit without waiting for idle sockets to time out.
process.exit(code);
