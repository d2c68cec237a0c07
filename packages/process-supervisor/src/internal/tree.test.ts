import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { readStat } from './proc.js';
import { ProcessTree } from './tree.js';

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
});

/** A `sleep` in a session (and group) of its own. */
async function loner(): Promise<{ pid: number; startTicks: number }> {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  const stat = await readStat(child.pid ?? 0);
  if (!stat) throw new Error('sleep is gone');
  return { pid: child.pid ?? 0, startTicks: stat.startTicks };
}

/** A tree whose root is a PID no process has (above every pid_max): only its members matter. */
function treeWith(member: { pid: number; startTicks: number }) {
  const tree = new ProcessTree({
    scanMs: 0,
    onError: (error) => {
      throw error;
    },
  });
  const family = tree.track({
    pid: 4_194_304 + 1,
    startTicks: null,
    isChild: true,
    queue: 'q',
    worker: 'q#1',
  });
  family.members.set(member.pid, { ...member, ppid: 1, pgid: member.pid, sid: member.pid });
  return { tree, family };
}

describe('ProcessTree', () => {
  it('keeps a remembered descendant that is still the same process, and signals its group', async () => {
    const sleeper = await loner();
    const { tree, family } = treeWith(sleeper);
    await tree.scan({ verify: true });
    expect([...family.members.keys()]).toEqual([sleeper.pid]);
    expect(family.groups).toContain(sleeper.pid);
  });

  it('forgets a remembered descendant whose PID now names another process (start time differs)', async () => {
    const sleeper = await loner();
    // The same PID with another start time: the descendant died and its PID was reused.
    const { tree, family } = treeWith({ pid: sleeper.pid, startTicks: sleeper.startTicks - 1 });
    await tree.scan({ verify: true });
    expect(family.members.size).toBe(0);
    expect(family.groups).not.toContain(sleeper.pid);
  });
});
