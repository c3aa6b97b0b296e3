// The gateway as a separate process, started through its own CLI, for tests that need several
// replicas or real signals.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startGatewayProcess(toml: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-process-'));
  const file = path.join(directory, 'config.toml');
  await writeFile(file, toml);
  const child = spawn(process.execPath, ['dist/src/cli.cjs', 'serve', '--config', file, '--address', '127.0.0.1:0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 30_000);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        logs.push(record);
        if (record.msg === 'listening') {
          clearTimeout(timer);
          resolve(String(record.url));
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    child,
    logs,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill(signal);
      return exited;
    },
  };
}
