// The gateway's own CPU per generated token on the llama-server engine: on a machine whose cores
// the engine's threads already use, each microsecond the gateway spends per token is taken from
// generation. CPU time, unlike tokens/s, holds still on a busy machine, so this is the figure to
// watch when cutting the gateway's per-token work (chat-throughput gives the ratios to the bare
// server on a quiet machine).
//   one stream and four concurrent streams through a gateway whose model is backend = "llama-server":
//   the gateway process's CPU (all its threads, from /proc/<pid>/task/*/schedstat, nanoseconds) and
//   its llama-server's, each per completion token.
// Usage: npm run build && LLAMA_SERVER=... node dist/bench/gateway-cpu.js
//   (BENCH_THREADS, BENCH_TOKENS, BENCH_REQUESTS; BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" for a profile)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { benchModels, llamaServerBinary, llamaServerChildren, median, readStream, startGatewayChild } from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
/** Requests per measurement (four streams: requests / 4 rounds of four). */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 32);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const PARALLEL = 4;
const CONTEXT = 1024;
let promptNumber = 0;

/** CPU nanoseconds of every live thread of `pid` (schedstat's first field: time on a CPU). */
function cpuNanoseconds(pid: number): number {
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

async function stream(url: string, seed: number): Promise<number> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'bench',
      prompt: `${++promptNumber}. Once upon a time, in a land far away, there lived`,
      max_tokens: TOKENS,
      temperature: 0.8,
      seed,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  let generated = 0;
  await readStream(response, (frame) => {
    const usage = frame.usage as { completion_tokens: number } | null | undefined;
    if (usage) generated += usage.completion_tokens;
  });
  return generated;
}

async function measure(url: string, gatewayPid: number, enginePid: number, streams: number): Promise<{ gatewayUs: number; engineUs: number }> {
  const gatewayBefore = cpuNanoseconds(gatewayPid);
  const engineBefore = cpuNanoseconds(enginePid);
  let generated = 0;
  for (let round = 0; round < REQUESTS / streams; round++) {
    const counts = await Promise.all(Array.from({ length: streams }, (_, index) => stream(url, round * streams + index + 1)));
    generated += counts.reduce((sum, count) => sum + count, 0);
  }
  return {
    gatewayUs: (cpuNanoseconds(gatewayPid) - gatewayBefore) / 1000 / generated,
    engineUs: (cpuNanoseconds(enginePid) - engineBefore) / 1000 / generated,
  };
}

async function main(): Promise<void> {
  const binary = llamaServerBinary();
  if (!binary) throw new Error('set LLAMA_SERVER (or SWITCHYARD_LLAMA_SERVER) to a llama-server binary');
  process.env.SWITCHYARD_LLAMA_SERVER = binary;
  const modelPath = path.join(benchModels(), 'random-llama-h512-l8.gguf');
  const gateway = await startGatewayChild(`
[api.models.bench]
backend = "llama-server"
path = "${modelPath}"
type = "completion"
context_length = ${CONTEXT}
threads = ${THREADS}
parallel = ${PARALLEL}
`);
  try {
    const [engine] = llamaServerChildren(gateway.child.pid!);
    if (!engine) throw new Error('no llama-server under the gateway');
    await stream(gateway.url, 1);
    const figures = new Map<number, { gateway: number[]; engine: number[] }>([
      [1, { gateway: [], engine: [] }],
      [4, { gateway: [], engine: [] }],
    ]);
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const [streams, series] of figures) {
        const { gatewayUs, engineUs } = await measure(gateway.url, gateway.child.pid!, engine.pid, streams);
        series.gateway.push(gatewayUs);
        series.engine.push(engineUs);
      }
    }
    console.log(`model ${modelPath}, threads ${THREADS}, ${TOKENS} tokens per request, ${REQUESTS} requests per measurement, medians of ${REPEATS}`);
    for (const [streams, series] of figures) {
      console.log(
        `${streams} stream${streams > 1 ? 's' : ''}: gateway ${median(series.gateway).toFixed(1)} µs CPU/token (${series.gateway.map((value) => value.toFixed(1)).join(' ')}), ` +
          `llama-server ${median(series.engine).toFixed(1)} µs CPU/token`,
      );
    }
  } finally {
    await gateway.stop();
  }
}

await main();
