import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditReport, runAudit } from '../src/index.js';

// Patterns applications use on purpose that an earlier reading of Coolify's report found
// flagged by mistake (issue 13): each must stay silent, while its unsafe neighbour is reported.

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'qscale-audit-precision-'));
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
  return runAudit({ path: dir });
}

const open = (report: AuditReport, ruleId: string) =>
  report.findings.filter((f) => f.ruleId === ruleId && f.status === 'open');

const horizonProvider = (gate: string) => `<?php
namespace App\\Providers;
use Illuminate\\Support\\Facades\\Gate;
use Laravel\\Horizon\\HorizonApplicationServiceProvider;
class HorizonServiceProvider extends HorizonApplicationServiceProvider
{
    protected function gate(): void
    {
        Gate::define('viewHorizon', ${gate});
    }
}
`;

describe('the Horizon gate', () => {
  it('an allowlist with an early return for one user is closed; returning true is open', async () => {
    const closed = await audit('horizon-allowlist', {
      'app/Providers/HorizonServiceProvider.php': horizonProvider(`function ($user) {
            if ($user->id === 0) {
                return true;
            }
            return in_array($user->email, ['ops@example.com']);
        }`),
    });
    const gateRule = (report: AuditReport) =>
      report.findings.filter((f) => f.message.startsWith('the Horizon dashboard is open'));
    expect(gateRule(closed)).toEqual([]);
    const everyone = await audit('horizon-open', {
      'app/Providers/HorizonServiceProvider.php': horizonProvider(
        'function ($user) { return true; }',
      ),
    });
    expect(gateRule(everyone).map((f) => f.severity)).toEqual(['critical']);
    const anyUser = await audit('horizon-any-user', {
      'app/Providers/HorizonServiceProvider.php': horizonProvider('fn ($user) => $user !== null'),
    });
    expect(gateRule(anyUser).map((f) => f.severity)).toEqual(['high']);
  });
});

describe('policies', () => {
  it('viewAny() returning true is the usual listing rule; update() returning true is reported', async () => {
    const report = await audit('policy', {
      'app/Policies/ScheduledTaskPolicy.php': `<?php
namespace App\\Policies;
class ScheduledTaskPolicy
{
    public function viewAny($user): bool
    {
        return true;
    }

    public function update($user, $task): bool
    {
        return true;
    }
}
`,
    });
    expect(open(report, 'JOB-028').map((f) => f.message)).toEqual([
      'ScheduledTaskPolicy::update() allows everyone (return true)',
    ]);
  });
});

describe('values the code makes itself', () => {
  it('generated ids, their conversions and loops over literal lists are not injections; request input still is', async () => {
    const report = await audit('generated', {
      'app/Jobs/GenJob.php': `<?php
namespace App\\Jobs;
use Illuminate\\Contracts\\Queue\\ShouldQueue;
use Illuminate\\Support\\Str;
use Visus\\Cuid2\\Cuid2;
class GenJob implements ShouldQueue
{
    public function handle(): void
    {
        $name = new Cuid2();
        exec("docker network create $name");
        $id = Str::uuid()->toString();
        exec("docker volume create $id");
        foreach (['nginx', 'redis'] as $image) {
            exec("docker pull $image");
        }
        $uuid = (string) Str::uuid();
        exec("docker rm $uuid");
    }
}
`,
      'app/Http/Controllers/PullController.php': `<?php
namespace App\\Http\\Controllers;
use Illuminate\\Http\\Request;
class PullController
{
    public function pull(Request $request): void
    {
        foreach ($request->input('images') as $image) {
            exec("docker pull $image");
        }
        $tag = (string) $request->input('tag');
        exec("docker tag app $tag");
    }
}
`,
    });
    const commands = report.findings.filter((f) => /^JOB-0(06|10|19)$/.test(f.ruleId));
    expect(commands.map((f) => f.location.path)).not.toContain('app/Jobs/GenJob.php');
    // The loop over request input (line 9) and the cast request input (line 12): traced.
    const places = commands.flatMap((f) =>
      (f.places.length > 0 ? f.places : [f]).map((p) => p.location.startLine),
    );
    expect(places).toEqual([9, 12]);
    expect(commands.map((f) => [f.severity, f.confidence])).toEqual([['critical', 'traced']]);
  });
});
