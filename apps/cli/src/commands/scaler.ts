import { runDaemon } from '@qscale/daemon';
import type { CliIo, ExitCode } from '../internal/io.js';
import type { ScalerArgs } from '../specs/scaler.js';

export async function run({ values }: ScalerArgs, io: CliIo): Promise<ExitCode> {
  // The daemon's runner in scaler mode: same loop, no workers, the gRPC service on.
  const code = await runDaemon(
    ['--config', values.config],
    { stdout: process.stdout, stderr: io.stderr, env: io.env },
    'scaler',
  );
  return code as ExitCode;
}
