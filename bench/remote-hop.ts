// The latency the remote hop adds: the same small requests sent straight to an upstream
// switchyard process (the baseline) and through a gateway process whose model is
// backend = "remote" on that upstream, on loopback, one request at a time, alternating between
// the two paths so that drift (CPU frequency, caches) hits both alike. Prints p50 and p99 of each
// and the difference. Target: the hop adds < 2 ms at p50.
//
//   node dist/bench/remote-hop.js [repetitions]      (default 1000 per path and request)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { models } from '../test/helpers/paths.js';

const repetitions = Number(process.argv[2] ?? 1000);
const warmup = Math.min(200, Math.ceil(repetitions / 5));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * `switchyard serve` on a free loopback port. Its log (access lines included, as in production)
 * is read only until it says where it listens, then discarded unparsed, so that parsing it costs
 * the measuring process nothing.
 */
async function serve(toml: string): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-bench-'));
  const file = path.join(directory, 'config.toml');
  await writeFile(file, toml);
  const child = spawn(process.execPath, ['dist/src/cli.cjs', 'serve', '--config', file, '--address', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const found = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"listening"/.exec(text);
      if (found) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(found[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`switchyard exited with ${code}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function call(url: string, method: 'GET' | 'POST', body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.request(url, { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (response) => {
      response.on('data', () => undefined);
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`${method} ${url}: ${response.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - started) / 1e6);
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

async function measure(name: string, direct: () => Promise<number>, viaGateway: () => Promise<number>, labels = ['client → upstream', 'client → gateway → upstream']): Promise<void> {
  for (let index = 0; index < warmup; index++) {
    await direct();
    await viaGateway();
  }
  const timings = { direct: [] as number[], gateway: [] as number[] };
  for (let index = 0; index < repetitions; index++) {
    timings.direct.push(await direct());
    timings.gateway.push(await viaGateway());
  }
  const sorted = { direct: timings.direct.sort((a, b) => a - b), gateway: timings.gateway.sort((a, b) => a - b) };
  const row = (label: string, values: number[]) => `  ${label.padEnd(28)} p50 ${percentile(values, 0.5).toFixed(3).padStart(8)} ms   p99 ${percentile(values, 0.99).toFixed(3).padStart(8)} ms`;
  console.log(`${name} (${repetitions} each, ${warmup} warm-up)`);
  console.log(row(labels[0], sorted.direct));
  console.log(row(labels[1], sorted.gateway));
  const addedP50 = percentile(sorted.gateway, 0.5) - percentile(sorted.direct, 0.5);
  const addedP99 = percentile(sorted.gateway, 0.99) - percentile(sorted.direct, 0.99);
  console.log(`  ${'difference'.padEnd(28)} p50 ${addedP50.toFixed(3).padStart(8)} ms   p99 ${addedP99.toFixed(3).padStart(8)} ms${labels[1].includes('upstream') ? `   (target p50 < 2 ms: ${addedP50 < 2 ? 'met' : 'missed'})` : ''}`);
}

const upstream = await serve(`
[api.models.story]
path = "${models.stories}"
type = "completion"
context_length = 256
threads = 1
parallel = 1
`);
const gateway = await serve(`
[plugins.remote]
[api.models.story]
backend = "remote"
type = "completion"
upstreams = ["${upstream.url}/v1"]
`);
try {
  // Both processes listen before their models load: wait until a completion answers.
  const completion = JSON.stringify({ model: 'story', prompt: 'Once upon a time', max_tokens: 1, temperature: 0 });
  for (const url of [upstream.url, gateway.url]) {
    for (let attempt = 0; ; attempt++) {
      try {
        await call(`${url}/v1/completions`, 'POST', completion);
        break;
      } catch (error) {
        if (attempt > 200) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
  console.log(`remote hop on loopback: node ${process.version}, one request at a time, keep-alive\n`);
  await measure('POST /v1/completions, 1 token (forwarded upstream)', () => call(`${upstream.url}/v1/completions`, 'POST', completion), () => call(`${gateway.url}/v1/completions`, 'POST', completion));
  console.log();
  // GET /v1/models is answered by each process itself: the baseline of the HTTP stack alone.
  await measure('GET /v1/models (answered locally by each: HTTP stack baseline)', () => call(`${upstream.url}/v1/models`, 'GET'), () => call(`${gateway.url}/v1/models`, 'GET'), [
    'client → upstream',
    'client → gateway',
  ]);
} finally {
  agent.destroy();
  await Promise.all([gateway.stop(), upstream.stop()]);
}
