// Shared pieces of the benchmarks: the benchmark-size models, a gateway child process, SSE
// reading, statistics and the figure-beside-baseline table.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createParser } from 'eventsource-parser';

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
  // BENCH_GATEWAY_NODE_ARGS passes flags to the gateway's node only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/profile".
  const nodeArguments = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((argument) => argument !== '');
  const child = spawn(process.execPath, [...nodeArguments, 'dist/src/cli.cjs', 'serve', '--config', file, '--address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SWITCHYARD_LOG_LEVEL: 'info' } });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const record = JSON.parse(line) as { msg?: string; url?: string };
        if (record.msg !== 'listening') return;
        resolve(String(record.url));
        // The access lines that follow are drained unread: parsing them would tax the client's share
        // of the cores.
        lines.close();
        child.stdout!.resume();
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

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * POSTs a JSON body over a kept-alive connection and returns the status and raw body. node:http
 * costs the client about a third of the CPU per request that fetch does (measured: 0.3 vs 1.05 ms);
 * on a 2-core machine the client's share comes out of what the gateway and the engine can use.
 */
export function postJson(url: string, body: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Streams a request and calls back at each `data:` frame (parsed JSON), until [DONE]. */
export async function readStream(response: Response, onFrame: (frame: Record<string, unknown>) => void): Promise<void> {
  let done = false;
  const parser = createParser({
    onEvent: (event) => {
      if (done) return;
      if (event.data === '[DONE]') done = true;
      else onFrame(JSON.parse(event.data) as Record<string, unknown>);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (done) return;
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
