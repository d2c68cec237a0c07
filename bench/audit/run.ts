// Audit speed on a generated Laravel tree: 2,000 PHP files (jobs with shell sinks, controllers
// dispatching jobs, models, actions, config) plus the Laravel config files, audited the way
// `qscale audit --path` does it. Target (issue 7): under 20 s.
// Usage: tsx audit/run.ts [--files 2000] [--runs 3]
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type AuditProgress, runAudit } from '@qscale/audit-rules';
import { machine, markdownTable } from '../lib/measure.js';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
  },
});
const fileCount = Number(values.files);
const runs = Number(values.runs);
const OUT = fileURLToPath(new URL('./out/laravel-tree/', import.meta.url));

// One file of each kind in turn, varied by index (i >> 2 within a kind) so no two are identical. Roughly a third of the
// jobs build shell commands (half escaped, half not), as a deployment platform's jobs do.
const kinds: ((i: number) => [string, string])[] = [
  (i) => [
    `app/Jobs/Deploy${i}Job.php`,
    `<?php

namespace App\\Jobs;

use App\\Models\\Server;
use Illuminate\\Bus\\Queueable;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
use Illuminate\\Queue\\SerializesModels;

class Deploy${i}Job implements ShouldQueue
{
    use Queueable, SerializesModels;

    public $tries = ${(i >> 2) % 4};

    public $timeout = 600;

    public function __construct(public Server $server, public string $branch, private string $token${i}) {}

    public function handle(): void
    {
        $dir = '/artifacts/'.$this->server->uuid;
        $commands = [];
        $commands[] = "mkdir -p {$dir}";
        $commands[] = ${(i >> 2) % 2 === 0 ? '"git clone --branch {$this->branch} https://example.test/repo.git {$dir}"' : "'git clone --branch '.escapeshellarg($this->branch).' https://example.test/repo.git '.escapeshellarg($dir)"};
        $commands[] = "docker build -t app:{$this->server->uuid} {$dir}";
        instant_remote_process($commands, $this->server);
        for ($n = 0; $n < ${(i >> 2) % 7}; $n++) {
            $this->server->update(['status' => 'step '.$n]);
        }
    }

    public function failed(\\Throwable $e): void
    {
        $this->server->update(['status' => 'failed']);
    }
}
`,
  ],
  (i) => [
    `app/Http/Controllers/Resource${i}Controller.php`,
    `<?php

namespace App\\Http\\Controllers;

use App\\Jobs\\Deploy${i - 1}Job;
use App\\Models\\Server;
use Illuminate\\Http\\Request;

class Resource${i}Controller
{
    public function store(Request $request, Server $server)
    {
        $this->authorize('update', $server);
        $validated = $request->validate(['branch' => 'required|string|max:100']);
        Deploy${i - 1}Job::dispatch($server, $validated['branch'], 'token');
        return response()->json(['queued' => true]);
    }

    public function show(Server $server)
    {
        return response()->json($server->only(['uuid', 'name', 'status']));
    }
}
`,
  ],
  (i) => [
    `app/Models/Model${i}.php`,
    `<?php

namespace App\\Models;

use Illuminate\\Database\\Eloquent\\Model;

class Model${i} extends Model
{
    protected $fillable = ['name', 'status', 'team_id'];

    protected $hidden = ['secret_token'];

    public function team()
    {
        return $this->belongsTo(Team::class);
    }

    public function scopeOwnedByCurrentTeam($query)
    {
        return $query->where('team_id', currentTeam()->id);
    }
}
`,
  ],
  (i) => [
    `app/Actions/Server/Action${i}.php`,
    `<?php

namespace App\\Actions\\Server;

use App\\Models\\Server;

class Action${i}
{
    public function handle(Server $server, string $name): string
    {
        $cmd = ${(i >> 2) % 3 === 0 ? '"docker rm -f {$name}"' : "'docker rm -f '.escapeshellarg($name)"};
        return instant_remote_process([$cmd, 'docker ps --format "{{.Names}}"'], $server);
    }
}
`,
  ],
];

const CONFIG: Record<string, string> = {
  artisan: '#!/usr/bin/env php\n<?php\n',
  '.env': `APP_KEY=base64:${Buffer.alloc(32, 7).toString('base64')}\nQUEUE_CONNECTION=redis\nREDIS_HOST=127.0.0.1\nREDIS_PASSWORD=bench-only\n`,
  'config/app.php':
    "<?php\n\nreturn ['name' => env('APP_NAME', 'bench'), 'cipher' => 'AES-256-CBC', 'key' => env('APP_KEY')];\n",
  'config/queue.php':
    "<?php\n\nreturn ['default' => env('QUEUE_CONNECTION', 'sync'), 'connections' => ['redis' => ['driver' => 'redis', 'connection' => 'default', 'queue' => 'default', 'retry_after' => 900]], 'failed' => ['driver' => 'database-uuids', 'table' => 'failed_jobs']];\n",
  'config/database.php':
    "<?php\n\nreturn ['redis' => ['default' => ['host' => env('REDIS_HOST', '127.0.0.1'), 'password' => env('REDIS_PASSWORD'), 'port' => 6379, 'database' => 0], 'cache' => ['host' => env('REDIS_HOST', '127.0.0.1'), 'password' => env('REDIS_PASSWORD'), 'port' => 6379, 'database' => 1]]];\n",
  'config/horizon.php':
    "<?php\n\nreturn ['memory_limit' => 64, 'trim' => ['recent' => 60, 'failed' => 10080], 'defaults' => ['supervisor-1' => ['connection' => 'redis', 'queue' => ['default'], 'maxProcesses' => 10, 'memory' => 128, 'tries' => 3, 'timeout' => 600]], 'environments' => ['production' => ['supervisor-1' => ['maxProcesses' => 20]]]];\n",
  'routes/console.php':
    "<?php\n\nuse Illuminate\\Support\\Facades\\Schedule;\n\nSchedule::command('queue:prune-failed --hours=48')->daily();\n",
};

async function generate(): Promise<number> {
  await rm(OUT, { recursive: true, force: true });
  let bytes = 0;
  const write = async (path: string, text: string) => {
    await mkdir(dirname(join(OUT, path)), { recursive: true });
    await writeFile(join(OUT, path), text);
    bytes += Buffer.byteLength(text);
  };
  for (const [path, text] of Object.entries(CONFIG)) await write(path, text);
  const phpConfig = Object.keys(CONFIG).filter((p) => p.endsWith('.php')).length;
  for (let i = 0; i < fileCount - phpConfig; i++) {
    const kind = kinds[i % kinds.length];
    if (!kind) continue;
    const [path, text] = kind(i);
    await write(path, text);
  }
  return bytes;
}

const bytes = await generate();
const load = loadavg()
  .map((n) => n.toFixed(2))
  .join(' ');
const timings: { totalMs: number; indexMs: number; findings: number; phpFiles: number }[] = [];
for (let run = 0; run < runs; run++) {
  let indexDoneAt = 0;
  const started = performance.now();
  const report = await runAudit({
    path: OUT,
    onProgress: (p: AuditProgress) => {
      if (p.phase === 'index' && p.done === p.total) indexDoneAt = performance.now();
    },
  });
  const totalMs = performance.now() - started;
  timings.push({
    totalMs,
    indexMs: indexDoneAt - started,
    findings: report.findings.length,
    phpFiles: report.scope.phpFiles,
  });
}
const sorted = [...timings].sort((a, b) => a.totalMs - b.totalMs);
const median = sorted[Math.floor(sorted.length / 2)];
if (!median) throw new Error('no run');

const rows = timings.map((t, i) => ({
  run: i + 1,
  'PHP files': t.phpFiles,
  'parse + index (s)': t.indexMs / 1000,
  'rules (s)': (t.totalMs - t.indexMs) / 1000,
  'total (s)': t.totalMs / 1000,
  findings: t.findings,
}));
const verdict = median.totalMs < 20_000 ? 'met' : 'missed';
console.log(`## audit

Command: \`npx pnpm@10.34.8 --filter @qscale/bench run audit\` (after \`npm run build\`).
Machine: ${machine()}, ${availableParallelism()} cores; load average at start ${load} (1/5/15 min).
Tree: ${fileCount} generated PHP files (${(bytes / 1024 / 1024).toFixed(1)} MiB: queued jobs with
shell sinks, controllers dispatching them, models, actions) plus Laravel config; \`runAudit({ path })\`,
i.e. \`qscale audit --path\` without the report rendering.

${markdownTable(rows)}

Median total: ${(median.totalMs / 1000).toFixed(2)} s for ${median.phpFiles} files; target under 20 s: ${verdict}.
`);
