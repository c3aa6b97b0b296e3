// Shared pieces of the benchmarks: the benchmark-size models, a gateway child process, SSE
// reading, statistics and the figure-beside-baseline table.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/** Writes the benchmark-size models once (../shared/tools/make-bench-models.sh) and returns their folder. */
export function benchModels(): string {
  const folder = process.env.BENCH_MODELS ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'switchyard-bench-models');
  if (!existsSync(path.join(folder, 'random-llama-h512-l8.gguf')) || !existsSync(path.join(folder, 'minilm-shape', 'model.onnx'))) {
    execFileSync('bash', [path.resolve('..', 'shared', 'tools', 'make-bench-models.sh'), folder], { stdio: 'inherit' });
  }
  return folder;
}

export interface GatewayChild {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The gateway in its own process, as deployed: the benchmark client does not share its event loop. */
export async function startGatewayChild(toml: string): Promise<GatewayChild> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-'));
  const file = path.join(folder, 'config.toml');
  await writeFile(file, `[logging]\nlevel = "warn"\n${toml}`);
  const child = spawn(process.execPath, ['dist/src/main.js', 'serve', '--config', file, '--address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SWITCHYARD_LOG_LEVEL: 'info' } });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const record = JSON.parse(line) as { msg?: string; url?: string };
        if (record.msg === 'listening') resolve(String(record.url));
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  // Wait for the models.
  for (;;) {
    const ready = await fetch(`${url}/ready`).then((response) => response.status).catch(() => 0);
    if (ready === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Streams a request and calls back at each `data:` frame (parsed JSON), until [DONE]. */
export async function readStream(response: Response, onFrame: (frame: Record<string, unknown>) => void): Promise<void> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!frame.startsWith('data: ')) continue;
      const data = frame.slice(6);
      if (data === '[DONE]') return;
      onFrame(JSON.parse(data) as Record<string, unknown>);
    }
  }
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

export interface Row {
  what: string;
  gateway: number;
  baseline: number;
  unit: string;
  /** "higher" when a bigger figure is better (throughput); "lower" for latencies. */
  better: 'higher' | 'lower';
  target?: string;
}

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(`${'figure'.padEnd(58)} ${'gateway'.padStart(10)} ${'baseline'.padStart(10)} ${'ratio'.padStart(7)}  target`);
  for (const row of rows) {
    const ratio = row.gateway / row.baseline;
    console.log(
      `${`${row.what} (${row.unit})`.padEnd(58)} ${row.gateway.toFixed(2).padStart(10)} ${row.baseline.toFixed(2).padStart(10)} ${ratio.toFixed(3).padStart(7)}  ${row.target ?? ''}`,
    );
  }
}
