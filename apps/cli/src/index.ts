export type { CliIo, ExitCode } from './internal/io.js';
export { EXIT } from './internal/io.js';
export { main } from './main.js';
