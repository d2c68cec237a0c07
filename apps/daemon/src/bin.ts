#!/usr/bin/env node
import { runDaemon } from './run.js';

const code = await runDaemon(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Everything is stopped and closed by now; exit without waiting for idle sockets to time out.
process.exit(code);
