// The latency the remote hop adds: the same small requests sent straight to an upstream
// switchyard process (the baseline) and through a gateway process whose model is
// backend = "remote" on that upstream, on loopback, one request at a time, alternating between
// the two paths so that drift (CPU frequency, caches) hits both alike. Prints p50 and p99 of each
// and the difference. Target: the hop adds < 2 ms at p50.
//
//   node dist/bench/remote-hop.js [repetitions]      (default 1000 per path and request)
import http from 'node:http';
import { models } from '../test/helpers/paths.js';
import { percentile, startGatewayChild } from './bench-support.js';

const repetitions = Number(process.argv[2] ?? 1000);
const warmup = Math.min(200, Math.ceil(repetitions / 5));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(url: string, method: 'GET' | 'POST', body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.request(
      url,
      { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
      (response) => {
        response.on('data', () => undefined);
        response.on('end', () => {
          if (response.statusCode !== 200) reject(new Error(`${method} ${url}: ${response.statusCode}`));
          else resolve(Number(process.hrtime.bigint() - started) / 1e6);
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

async function measure(
  name: string,
  direct: () => Promise<number>,
  viaGateway: () => Promise<number>,
  labels = ['client → upstream', 'client → gateway → upstream'],
): Promise<void> {
  for (let index = 0; index < warmup; index++) {
    await direct();
    await viaGateway();
  }
  const timings = { direct: [] as number[], gateway: [] as number[] };
  for (let index = 0; index < repetitions; index++) {
    timings.direct.push(await direct());
    timings.gateway.push(await viaGateway());
  }
  const row = (label: string, values: number[]) =>
    `  ${label.padEnd(28)} p50 ${percentile(values, 50).toFixed(3).padStart(8)} ms   p99 ${percentile(values, 99).toFixed(3).padStart(8)} ms`;
  console.log(`${name} (${repetitions} each, ${warmup} warm-up)`);
  console.log(row(labels[0], timings.direct));
  console.log(row(labels[1], timings.gateway));
  const addedP50 = percentile(timings.gateway, 50) - percentile(timings.direct, 50);
  const addedP99 = percentile(timings.gateway, 99) - percentile(timings.direct, 99);
  console.log(
    `  ${'difference'.padEnd(28)} p50 ${addedP50.toFixed(3).padStart(8)} ms   p99 ${addedP99.toFixed(3).padStart(8)} ms${labels[1].includes('upstream') ? `   (target p50 < 2 ms: ${addedP50 < 2 ? 'met' : 'missed'})` : ''}`,
  );
}

const upstream = await startGatewayChild(`
[api.models.story]
path = "${models.stories}"
type = "completion"
backend = "llama"
context_length = 256
threads = 1
parallel = 1
`);
const gateway = await startGatewayChild(`
[plugins.remote]
[api.models.story]
backend = "remote"
type = "completion"
upstreams = ["${upstream.url}/v1"]
`);
try {
  // One completion through each path before measuring, retried briefly while the models settle.
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
  await measure(
    'POST /v1/completions, 1 token (forwarded upstream)',
    () => call(`${upstream.url}/v1/completions`, 'POST', completion),
    () => call(`${gateway.url}/v1/completions`, 'POST', completion),
  );
  console.log();
  // GET /v1/models is answered by each process itself: the baseline of the HTTP stack alone.
  await measure(
    'GET /v1/models (answered locally by each: HTTP stack baseline)',
    () => call(`${upstream.url}/v1/models`, 'GET'),
    () => call(`${gateway.url}/v1/models`, 'GET'),
    ['client → upstream', 'client → gateway'],
  );
} finally {
  agent.destroy();
  await Promise.all([gateway.stop(), upstream.stop()]);
}
