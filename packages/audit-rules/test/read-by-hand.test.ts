import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditReport, type Finding, runAudit } from '../src/index.js';

// False-positive classes found by reading every critical and high finding of Coolify's default
// run by hand (issue 13, 2026-12-03; labels in test/fixtures/coolify-read-by-hand.md). Each case
// is a minimised reproduction: the pattern that was flagged by mistake stays quiet, while an
// unsafe neighbour in the same file is still reported.

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'qscale-audit-by-hand-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function audit(name: string, files: Record<string, string>): Promise<AuditReport> {
  const dir = join(root, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return runAudit({ path: dir, hostCores: 2 });
}

const COMMAND_RULES = /^JOB-0(06|06Q|10|11|19)$/;
const commandFindings = (report: AuditReport): Finding[] =>
  report.findings.filter((f) => COMMAND_RULES.test(f.ruleId) && f.status === 'open');
const said = (findings: readonly Finding[]) =>
  findings.flatMap((f) => (f.places.length > 0 ? f.places : [f]).map((p) => p.message)).join('\n');

describe('Coolify read by hand: false-positive classes', () => {
  it('an int parameter and an int return type carry no shell syntax; a string one does', async () => {
    const report = await audit('numeric-types', {
      'app/helpers.php': `<?php
function stop_command(int $timeout, string $containers): string
{
    return "docker stop --time={$timeout} {$containers}";
}
`,
      'app/Models/Setting.php': `<?php
namespace App\\Models;
use Illuminate\\Database\\Eloquent\\Model;
class Setting extends Model
{
    public function graceSeconds(): int
    {
        return $this->stop_grace_period;
    }
}
`,
      'app/Http/Controllers/StopController.php': `<?php
namespace App\\Http\\Controllers;
use App\\Models\\Setting;
use Illuminate\\Http\\Request;
class StopController
{
    public function stop(Request $request, Setting $setting): void
    {
        exec(stop_command($setting->graceSeconds(), 'web-1'));
        exec(stop_command(30, $request->input('container')));
    }
}
`,
    });
    const text = said(commandFindings(report));
    expect(text).toContain('$request->input');
    expect(text).not.toMatch(/graceseconds|stop_grace_period/i);
  });

  it('a Livewire property typed int is cast by Livewire; an unlocked string property is user input', async () => {
    const report = await audit('livewire-typed', {
      'app/Livewire/Logs.php': `<?php
namespace App\\Livewire;
use Livewire\\Component;
class Logs extends Component
{
    public ?int $lines = 100;
    public ?string $filter = null;
    public function refresh(): void
    {
        exec("docker logs -n {$this->lines} web-1");
        exec("docker logs web-1 | grep {$this->filter}");
    }
}
`,
    });
    const text = said(commandFindings(report));
    expect(text).toContain('$this->filter');
    expect(text).not.toContain('$this->lines');
  });

  it('a column every migration declares integer is not user text; a string column is', async () => {
    const report = await audit('migration-columns', {
      'database/migrations/2024_01_01_000000_create_sources_table.php': `<?php
use Illuminate\\Database\\Migrations\\Migration;
use Illuminate\\Database\\Schema\\Blueprint;
use Illuminate\\Support\\Facades\\Schema;
return new class extends Migration
{
    public function up(): void
    {
        Schema::create('sources', function (Blueprint $table) {
            $table->id();
            $table->integer('custom_port')->default(22);
            $table->string('custom_user');
        });
    }
};
`,
      'app/Jobs/CloneJob.php': `<?php
namespace App\\Jobs;
use App\\Models\\Source;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class CloneJob implements ShouldQueue
{
    public function __construct(public Source $source) {}
    public function handle(): void
    {
        $port = $this->source->custom_port ?? 22;
        exec("GIT_SSH_COMMAND=\\"ssh -p {$port}\\" git clone git@example.test:app.git");
        exec("ssh {$this->source->custom_user}@example.test true");
    }
}
`,
      'app/Models/Source.php': `<?php
namespace App\\Models;
use Illuminate\\Database\\Eloquent\\Model;
class Source extends Model {}
`,
    });
    const text = said(commandFindings(report));
    expect(text).toContain('custom_user');
    expect(text).not.toContain('custom_port');
  });

  it('a model held by a notification is queued as its key; a secret string is queued as is', async () => {
    const notification = (param: string) => `<?php
namespace App\\Notifications;
use App\\Models\\PersonalAccessToken;
use Illuminate\\Bus\\Queueable;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
use Illuminate\\Notifications\\Notification;
class TokenExpiring extends Notification implements ShouldQueue
{
    use Queueable;
    public function __construct(${param}) {}
}
`;
    const model = `<?php
namespace App\\Models;
use Laravel\\Sanctum\\PersonalAccessToken as SanctumToken;
class PersonalAccessToken extends SanctumToken {}
`;
    const jobSecrets = (report: AuditReport) =>
      report.findings.filter((f) => f.ruleId === 'JOB-002' && f.status === 'open');
    const modelHeld = await audit('notification-model', {
      'app/Notifications/TokenExpiring.php': notification('public PersonalAccessToken $token'),
      'app/Models/PersonalAccessToken.php': model,
    });
    expect(jobSecrets(modelHeld)).toEqual([]);
    const stringHeld = await audit('notification-string', {
      'app/Notifications/TokenExpiring.php': notification('public string $token'),
      'app/Models/PersonalAccessToken.php': model,
    });
    expect(jobSecrets(stringHeld).map((f) => f.severity)).toEqual(['high']);
  });

  it('container flags in the commands a product runs are one medium review item per flag', async () => {
    const report = await audit('design-flags', {
      'app/Jobs/BuildJob.php': `<?php
namespace App\\Jobs;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class BuildJob implements ShouldQueue
{
    public function handle(): void
    {
        exec('docker build --network host -t app .');
        exec('docker build --network host -t app-worker .');
        exec('docker run -d -v /var/run/docker.sock:/var/run/docker.sock agent');
    }
}
`,
    });
    const flags = report.findings.filter((f) => f.ruleId === 'JOB-020');
    expect(flags.map((f) => [f.severity, f.confidence, Math.max(1, f.places.length)])).toEqual(
      expect.arrayContaining([
        ['medium', 'review', 2],
        ['medium', 'review', 1],
      ]),
    );
    expect(flags).toHaveLength(2);
  });

  it('a seeded SSH key for a development container is low; the same key in a production seeder stays critical', async () => {
    const key = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
      'QyNTUxOQAAACBexampleexampleexampleexampleexampleexampleexampleAAAAJi',
      '-----END OPENSSH PRIVATE KEY-----',
    ].join('\n');
    const seeder = (name: string) => `<?php
namespace Database\\Seeders;
use Illuminate\\Database\\Seeder;
class ${name} extends Seeder
{
    public function run(): void
    {
        $key = '${key}';
    }
}
`;
    const report = await audit('seeded-keys', {
      'database/seeders/PrivateKeySeeder.php': seeder('PrivateKeySeeder'),
      'database/seeders/ProductionSeeder.php': seeder('ProductionSeeder'),
      'app/Support/Redact.php': `<?php
function redact_tokens(string $text): string
{
    return preg_replace('/x-access-token:.*?(?=@)/', 'x-access-token:<REDACTED>', $text);
}
`,
    });
    const secrets = report.findings.filter((f) => f.ruleId === 'SEC-001');
    expect(
      secrets
        .map((f) => [f.location.path, f.severity])
        .sort((a, b) => String(a).localeCompare(String(b))),
    ).toEqual([
      ['database/seeders/PrivateKeySeeder.php', 'low'],
      ['database/seeders/ProductionSeeder.php', 'critical'],
    ]);
  });

  it('an unknown origin is high only for an entry point parameter; a call result is medium', async () => {
    const report = await audit('unknown-origin', {
      'app/Actions/ExtractArchive.php': `<?php
namespace App\\Actions;
class ExtractArchive
{
    public function handle(string $archive): void
    {
        exec('tar -xzf /tmp/'.$archive);
        exec('docker rm -f '.current_container());
    }
}
`,
    });
    const bySeverity = commandFindings(report).map((f) => [f.severity, f.confidence, f.message]);
    expect(bySeverity).toEqual(
      expect.arrayContaining([
        ['high', 'review', expect.stringContaining('$archive')],
        ['medium', 'review', expect.stringContaining('current_container')],
      ]),
    );
  });

  it('a webhook URL checked by a guard that refuses private addresses is not SSRF; an unchecked one is', async () => {
    const job = (name: string, guard: string) => `<?php
namespace App\\Jobs;
use App\\Support\\SafeUrl;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
use Illuminate\\Support\\Facades\\Http;
class ${name} implements ShouldQueue
{
    public function __construct(public string $webhookUrl) {}
    public function handle(): void
    {
        ${guard}
        $this->send($options);
    }
    private function send(array $options): void
    {
        Http::withOptions($options)->post($this->webhookUrl, ['text' => 'done']);
    }
}
`;
    const report = await audit('ssrf-guard', {
      'app/Support/SafeUrl.php': `<?php
namespace App\\Support;
class SafeUrl
{
    public static function clientOptions(string $url): array
    {
        $ip = gethostbyname((string) parse_url($url, PHP_URL_HOST));
        if (! self::isPublic($ip)) {
            throw new \\RuntimeException('refused');
        }
        return ['curl' => [CURLOPT_RESOLVE => [$ip]]];
    }
    private static function isPublic(string $ip): bool
    {
        return filter_var($ip, FILTER_VALIDATE_IP, FILTER_FLAG_NO_PRIV_RANGE | FILTER_FLAG_NO_RES_RANGE) !== false;
    }
}
`,
      'app/Jobs/GuardedWebhookJob.php': job(
        'GuardedWebhookJob',
        '$options = SafeUrl::clientOptions($this->webhookUrl);',
      ),
      'app/Jobs/OpenWebhookJob.php': job('OpenWebhookJob', '$options = [];'),
      'app/Http/Controllers/HookController.php': `<?php
namespace App\\Http\\Controllers;
use App\\Jobs\\GuardedWebhookJob;
use App\\Jobs\\OpenWebhookJob;
use Illuminate\\Http\\Request;
class HookController
{
    public function store(Request $request): void
    {
        GuardedWebhookJob::dispatch($request->input('url'));
        OpenWebhookJob::dispatch($request->input('url'));
    }
}
`,
    });
    const ssrf = report.findings.filter((f) => f.ruleId === 'JOB-029');
    expect(ssrf.map((f) => f.location.path)).toEqual(['app/Jobs/OpenWebhookJob.php']);
  });

  it("a trait's private helper called through $this is judged at its callers, not as an entry point", async () => {
    const report = await audit('trait-helper', {
      'app/Traits/RunsCommands.php': `<?php
namespace App\\Traits;
trait RunsCommands
{
    public function runAll(array $steps): void
    {
        collect($steps)->each(function ($step) {
            $this->runOne('cd /srv && '.$step);
        });
    }
    private function runOne($command): void
    {
        exec($command);
    }
}
`,
    });
    // Reported once, where the trait's public method hands its steps over (line 8).
    const lines = commandFindings(report).flatMap((f) =>
      (f.places.length > 0 ? f.places : [f]).map((p) => p.location.startLine),
    );
    expect(lines).toEqual([8]);
  });

  it('a digest of the secrets as a build arg is a cache key; the secret itself is reported', async () => {
    const report = await audit('build-arg-digest', {
      'app/Jobs/BuildImageJob.php': `<?php
namespace App\\Jobs;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class BuildImageJob implements ShouldQueue
{
    public function handle(): void
    {
        $hash = hash('sha256', 'x');
        exec("docker build --build-arg BUILD_SECRETS_HASH={$hash} -t app .");
        exec("docker build --build-arg NPM_TOKEN=abc -t app .");
    }
}
`,
    });
    const lines = report.findings
      .filter((f) => f.ruleId === 'JOB-008')
      .map((f) => f.location.startLine);
    expect(lines).toEqual([10]);
  });

  it('a private helper that saves a task after its callers authorize is quiet; a public one is reported', async () => {
    const component = (visibility: string) => `<?php
namespace App\\Livewire;
use App\\Models\\ScheduledTask;
use Livewire\\Component;
class AddTask extends Component
{
    public string $command = '';
    public function submit(): void
    {
        $this->authorize('update', $this->resource);
        $this->saveTask();
    }
    ${visibility} function saveTask(): void
    {
        $task = new ScheduledTask;
        $task->command = $this->command;
        $task->save();
    }
}
`;
    const missing = (report: AuditReport) =>
      report.findings.filter((f) => f.ruleId === 'JOB-028').map((f) => f.message);
    expect(
      missing(await audit('task-private', { 'app/Livewire/AddTask.php': component('private') })),
    ).toEqual([]);
    expect(
      missing(await audit('task-public', { 'app/Livewire/AddTask.php': component('public') })),
    ).toEqual(['AddTask::savetask() changes a scheduled task with no authorization check']);
  });

  it('a policy ability on the user alone may return true; one on a resource may not', async () => {
    const report = await audit('policy-abilities', {
      'app/Policies/TaskPolicy.php': `<?php
namespace App\\Policies;
use App\\Models\\ScheduledTask;
use App\\Models\\User;
class TaskPolicy
{
    public function create(User $user): bool
    {
        return true;
    }
    public function update(User $user, ScheduledTask $task): bool
    {
        return true;
    }
}
`,
    });
    expect(report.findings.filter((f) => f.ruleId === 'JOB-028').map((f) => f.message)).toEqual([
      'TaskPolicy::update() allows everyone (return true)',
    ]);
  });

  it('a value reassigned inside a branch is the only one seen in that branch; after it, both may arrive', async () => {
    const report = await audit('branch-reassignment', {
      'app/Models/App.php': `<?php
namespace App\\Models;
use Illuminate\\Database\\Eloquent\\Model;
class App extends Model
{
    public function fetch(int $pullRequest): void
    {
        $branch = $this->git_branch;
        if ($pullRequest > 0) {
            $branch = 'pull/head';
            exec("git fetch origin $branch");
        }
        exec("git checkout $branch");
    }
}
`,
    });
    const lines = commandFindings(report).flatMap((f) =>
      (f.places.length > 0 ? f.places : [f]).map((p) => p.location.startLine),
    );
    expect(lines).toEqual([13]);
  });

  it('an attribute a job validates in its constructor is trusted in every method; an unvalidated one is not', async () => {
    const report = await audit('constructor-validation', {
      'app/Support/Patterns.php': `<?php
namespace App\\Support;
class Patterns
{
    public const PATH = '/^\\/[a-zA-Z0-9._\\-\\/]+$/';
}
`,
      'app/Jobs/DeployJob.php': `<?php
namespace App\\Jobs;
use App\\Models\\Application;
use App\\Support\\Patterns;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
class DeployJob implements ShouldQueue
{
    private string $workdir;
    public function __construct(public Application $application)
    {
        $baseDir = $this->application->base_directory;
        $this->validatePath($baseDir);
        $this->workdir = '/artifacts'.rtrim($baseDir, '/');
    }
    public function handle(): void
    {
        exec("cd {$this->workdir} && ls {$this->application->base_directory}");
        exec("cd /srv && ls {$this->application->publish_directory}");
    }
    private function validatePath(string $value): void
    {
        if (! preg_match(Patterns::PATH, $value)) {
            throw new \\RuntimeException('bad path');
        }
        if (str_contains($value, '..')) {
            throw new \\RuntimeException('traversal');
        }
    }
}
`,
    });
    const text = said(commandFindings(report));
    expect(text).toContain('publish_directory');
    expect(text).not.toMatch(/workdir|base_directory/);
  });
});
