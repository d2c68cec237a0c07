// The benchmark's node worker: prints "ready" once booted, then idles. With "ignore-term" it
// ignores SIGTERM (only the supervisor's SIGKILL after the grace ends it); otherwise it exits
// 0 on SIGTERM, like a queue worker with no job in hand.
// With "setsid-child" it also starts a `sleep` in a session of its own (like RQ's work horse),
// for the descendant-walk benchmark (tree.ts).
import { spawn } from 'node:child_process';

if (process.argv[2] === 'setsid-child') {
  spawn('sleep', ['600'], { detached: true, stdio: 'ignore' }).unref();
}
if (process.argv[2] === 'ignore-term') process.on('SIGTERM', () => {});
else process.on('SIGTERM', () => process.exit(0));
process.stdout.write('ready\n');
setInterval(() => {}, 1 << 30);
