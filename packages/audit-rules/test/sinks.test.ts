import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditReport, runAudit } from '../src/index.js';

// One controller per shell sink of P-SINK-LOCAL, each fed from the request: every string
// command must be reported (critical: user-controlled), every argv array must not.
const SOURCE = `<?php

namespace App\\Http\\Controllers;

use Illuminate\\Http\\Request;
use Illuminate\\Support\\Facades\\Process;
use Symfony\\Component\\Process\\Process as SymfonyProcess;

class ToolsController
{
    public function sinks(Request $request): void
    {
        $host = $request->input('host');
        exec("ping -c 1 $host");
        shell_exec('nslookup '.$host);
        system("traceroute {$host}");
        passthru(sprintf('whois %s', $host));
        popen("dig $host", 'r');
        proc_open("host $host", [], $pipes);
        $out = \`curl -s $host\`;
        Process::run("ping -c 1 {$host}");
        SymfonyProcess::fromShellCommandline('ping -c 1 '.$host);
    }

    public function arrays(Request $request): void
    {
        $host = $request->input('host');
        proc_open(['ping', '-c', '1', $host], [], $pipes);
        Process::run(['ping', '-c', '1', $host]);
        (new SymfonyProcess(['ping', '-c', '1', $host]))->run();
        exec('ping -c 1 '.escapeshellarg($host));
        exec('sleep '.(int) $request->input('seconds'));
    }
}
`;

let dir: string;
let report: AuditReport;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qscale-audit-sinks-'));
  await mkdir(join(dir, 'app/Http/Controllers'), { recursive: true });
  await writeFile(join(dir, 'app/Http/Controllers/ToolsController.php'), SOURCE);
  report = await runAudit({ path: dir });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('P-SINK-LOCAL', () => {
  it('reports every string command built from request input, critical, at its line', () => {
    const hits = report.findings.filter((f) => f.ruleId === 'JOB-006');
    expect(hits.map((f) => [f.location.startLine, f.severity])).toEqual(
      [14, 15, 16, 17, 18, 19, 20, 21, 22].map((line) => [line, 'critical']),
    );
    expect(hits.map((f) => f.message.split(' run by ')[1])).toEqual([
      'exec',
      'shell_exec',
      'system',
      'passthru',
      'popen',
      'proc_open',
      'backtick',
      'Process::run',
      'SymfonyProcess::fromshellcommandline',
    ]);
  });

  it('argv arrays, escapeshellarg and int casts are never reported', () => {
    expect(report.findings.filter((f) => (f.location.startLine ?? 0) >= 25)).toEqual([]);
  });
});

describe('messages', () => {
  it("name operands in words, never by the parser's node names", async () => {
    const root = await mkdtemp(join(tmpdir(), 'qscale-audit-words-'));
    try {
      await mkdir(join(root, 'app/Jobs'), { recursive: true });
      await writeFile(
        join(root, 'app/Jobs/PruneJob.php'),
        `<?php
namespace App\\Jobs;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class PruneJob implements ShouldQueue
{
    public function handle(): void
    {
        exec('docker rm ' . match ($this->force) { true => $this->flags, default => $this->other });
        exec('docker rm ' . ($this->a . $this->b) . " {$this->c}x");
    }
}
`,
      );
      const words = await runAudit({ path: root });
      const messages = words.findings.map((f) => f.message);
      expect(messages.length).toBeGreaterThanOrEqual(2);
      expect(messages.some((m) => m.includes('a match expression'))).toBe(true);
      for (const message of messages)
        expect(message).not.toMatch(/\b(retif|encapsed|bin|match)\b(?! expression)/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
