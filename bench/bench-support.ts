// Shared pieces of the benchmarks: the benchmark-size models, a gateway child process, SSE
// reading, statistics and the figure-beside-baseline table.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { createParser } from 'eventsource-parser';
import { locateLlamaServer } from '../src/backends/llama-server/binary.js';
import { freeLoopbackPort } from '../src/backends/llama-server/loopback-port.js';

const execFileAsync = promisify(execFile);

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

const READY_TIMEOUT_MS = 300_000;

/**
 * The gateway in its own process, as deployed: the benchmark client does not share its event loop.
 * `root`: the checkout whose build runs (default this one), e.g. another commit's to compare with.
 */
export async function startGatewayChild(toml: string, root = '.'): Promise<GatewayChild> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-'));
  const file = path.join(folder, 'config.toml');
  await writeFile(file, `[logging]\nlevel = "warn"\n${toml}`);
  // BENCH_GATEWAY_NODE_ARGS passes flags to the gateway's node only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/profile".
  const nodeArguments = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((argument) => argument !== '');
  const child = spawn(process.execPath, [...nodeArguments, 'dist/src/cli.cjs', 'serve', '--config', file, '--address', '127.0.0.1:0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SWITCHYARD_LOG_LEVEL: 'info' },
  });
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
  // Wait for the models, within a bound: a model that cannot load leaves the gateway up but never ready.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited with ${child.exitCode ?? child.signalCode}`);
    const ready = await fetch(`${url}/ready`)
      .then((response) => response.status)
      .catch(() => 0);
    if (ready === 200) break;
    if (Date.now() > deadline) {
      const health = await fetch(`${url}/health`)
        .then((response) => response.text())
        .catch((error: Error) => error.message);
      child.kill('SIGKILL');
      throw new Error(`gateway not ready within ${READY_TIMEOUT_MS / 1000} s: ${health}`);
    }
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

/** How a benchmark's completion model is served: which GGUF engine, with what context and threads. */
export interface BenchModelSettings {
  backend: 'llama' | 'llama-server';
  contextLength: number;
  threads: number;
  parallel: number;
  /** The model's type; default "completion" (a chat model's prompt goes through its template). */
  type?: 'chat' | 'completion';
  /** The model's id in the gateway; default "bench". */
  id?: string;
  /** More keys of the model's table, as TOML lines. */
  extraKeys?: string;
}

/** A benchmark's completion model as a gateway's [api.models.ID] table. */
export function benchModelToml(modelPath: string, settings: BenchModelSettings): string {
  return `
[api.models.${settings.id ?? 'bench'}]
backend = "${settings.backend}"
path = "${modelPath}"
type = "${settings.type ?? 'completion'}"
context_length = ${settings.contextLength}
threads = ${settings.threads}
parallel = ${settings.parallel}
${settings.extraKeys ?? ''}`;
}

export interface LoadResult {
  requests: number;
  /** Completed requests per second. */
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU the load generator itself used, in cores (1 = one core busy all along). */
  clientCores: number;
}

/**
 * A closed-loop HTTP load from wrk: `connections` clients, each POSTing a new body as soon as its
 * previous answer is in, for `seconds`. `bodyScript` is Lua defining `init(args)` (given `args`)
 * and `body()`, which returns the next request body. wrk is C: on a 2-core machine a Node client
 * costs 0.3 ms of CPU per request (node:http; fetch 1 ms), 5–10% of the cores at a few hundred
 * requests/s, all of it taken from the gateway and its engine; wrk costs about a tenth of that.
 * Any non-2xx answer or socket error fails the load.
 */
export async function wrkLoad(url: string, bodyScript: string, args: string[], connections: number, seconds: number): Promise<LoadResult> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'switchyard-wrk-'));
  const script = path.join(folder, 'load.lua');
  await writeFile(
    script,
    `${bodyScript}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, nil, nil, body())
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %.1f %.1f\\n", summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))
end
`,
  );
  const childCpuBefore = childrenCpuSeconds();
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '30s', '-s', script, url, '--', ...args]));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('this benchmark drives its load with wrk: apt-get install wrk');
    throw error;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  const match = /WRK (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)/.exec(stdout);
  if (match === null) throw new Error(`unexpected wrk output: ${stdout}`);
  const [requests, durationUs, errors, p50Us, p99Us] = match.slice(1).map(Number);
  if (errors > 0) throw new Error(`${errors} of ${requests} requests failed:\n${stdout}`);
  const elapsed = durationUs / 1e6;
  return { requests, throughput: requests / elapsed, p50Ms: p50Us / 1000, p99Ms: p99Us / 1000, clientCores: (childrenCpuSeconds() - childCpuBefore) / elapsed };
}

/** CPU seconds of this process's finished children (cutime + cstime in /proc/self/stat). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of the stat line, counted from after the command name (which is field 2).
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux architecture Node.js supports. */
const CLOCK_TICKS_PER_SECOND = 100;

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

/** CPU nanoseconds of every live thread of `pid` (schedstat's first field: time on a CPU). */
export function cpuNanoseconds(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
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
  /** The ratio to print when it is not gateway / baseline (e.g. the median of paired ratios). */
  ratio?: number;
}

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(`${'figure'.padEnd(58)} ${'gateway'.padStart(10)} ${'baseline'.padStart(10)} ${'ratio'.padStart(7)}  target`);
  for (const row of rows) {
    const ratio = row.ratio ?? row.gateway / row.baseline;
    console.log(
      `${`${row.what} (${row.unit})`.padEnd(58)} ${row.gateway.toFixed(2).padStart(10)} ${row.baseline.toFixed(2).padStart(10)} ${ratio.toFixed(3).padStart(7)}  ${row.target ?? ''}`,
    );
  }
}

/**
 * The llama-server binary the benchmarks compare with: LLAMA_SERVER, else the one the gateway
 * itself would run (SWITCHYARD_LLAMA_SERVER, else the install step's), found as the gateway finds it.
 */
export function llamaServerBinary(): string | undefined {
  return process.env.LLAMA_SERVER || locateLlamaServer(undefined, process.cwd())?.path;
}

export interface BareLlamaServer {
  url: string;
  stop(): Promise<void>;
}

/** llama-server on a loopback port with `args` (everything but where it listens), once its /health answers 200. */
export async function startBareLlamaServer(binary: string, args: string[]): Promise<BareLlamaServer> {
  const port = await freeLoopbackPort();
  const child = spawn(binary, [...args, '--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`llama-server exited (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    const status = await fetch(`${url}/health`)
      .then((response) => response.status)
      .catch(() => 0);
    if (status === 200) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`llama-server was not healthy within 120 s:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The processes below `root` (children, grandchildren, ...), from /proc. */
export function descendantPids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // The command name (field 2) may hold spaces and parentheses: the parent id follows the last ')'.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const pending = [root];
  while (pending.length > 0) {
    for (const child of children.get(pending.pop()!) ?? []) {
      found.push(child);
      pending.push(child);
    }
  }
  return found;
}

/** Where llama-server listens and how it is called: the gateway's part, not the engine's configuration. */
const LISTEN_OPTIONS = new Set(['--host', '--port', '--api-key', '--api-key-file']);

/** A gateway's llama-server arguments without where it listens: what a bare llama-server runs to compare with it. */
export function withoutListenOptions(args: string[]): string[] {
  const kept: string[] = [];
  for (let index = 0; index < args.length; index++) {
    if (LISTEN_OPTIONS.has(args[index])) index++;
    else kept.push(args[index]);
  }
  return kept;
}

/** The llama-server processes a gateway runs (whatever starts them in between), with their arguments. */
export function llamaServerChildren(gatewayPid: number): Array<{ pid: number; args: string[] }> {
  const found: Array<{ pid: number; args: string[] }> = [];
  for (const pid of descendantPids(gatewayPid)) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'llama-server') continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1, -1);
      found.push({ pid, args });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
