// tsc compiles only TypeScript: the dashboard's page, scripts and styles are copied beside the
// compiled server (dist/http/dashboard/static/), where it reads them at run time.
import { cp, rm } from 'node:fs/promises';

const from = new URL('../src/http/dashboard/static/', import.meta.url);
const to = new URL('../dist/http/dashboard/static/', import.meta.url);
await rm(to, { recursive: true, force: true });
await cp(from, to, { recursive: true });
