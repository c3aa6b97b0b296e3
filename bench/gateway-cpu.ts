// The gateway's own CPU per generated token on the llama-server engine: on a machine whose cores
// the engine's threads already use, each microsecond the gateway spends per token is taken from
// generation. CPU time holds stiller than tokens/s on a busy machine, so this is the figure to
// watch when cutting the gateway's per-token work (chat-throughput gives the ratios to the bare
// server, on a quiet machine).
//   one stream and four concurrent streams through a gateway whose model is backend = "llama-server":
//   the gateway process's CPU (all its threads, /proc/<pid>/task/*/schedstat) per completion token,
//   and its llama-server's beside it.
// With BENCH_BASELINE=<another checkout, built> the same runs on that checkout's gateway too,
// interleaved with this one's (a busy neighbour then weighs on both alike), with the paired ratios.
// Usage: npm run build && LLAMA_SERVER=... node dist/bench/gateway-cpu.js
//   (BENCH_THREADS, BENCH_TOKENS, BENCH_REQUESTS per measurement, BENCH_REPEATS, BENCH_BASELINE;
//    BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" for a profile of the gateways)
import path from 'node:path';
import {
  benchModels,
  benchModelToml,
  cpuNanoseconds,
  llamaServerBinary,
  llamaServerChildren,
  median,
  readStream,
  startGatewayChild,
  type GatewayChild,
} from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
/** Requests per measurement (four streams: a quarter as many rounds of four). */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 16);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const BASELINE = process.env.BENCH_BASELINE;
const PARALLEL = 4;
const CONTEXT = 1024;
let promptNumber = 0;

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

interface Side {
  name: string;
  gateway: GatewayChild;
  enginePid: number;
  /** Per stream count: µs of CPU per token of each measurement. */
  gatewayUs: Map<number, number[]>;
  engineUs: Map<number, number[]>;
}

async function startSide(name: string, root: string, modelPath: string): Promise<Side> {
  const gateway = await startGatewayChild(
    benchModelToml(modelPath, { backend: 'llama-server', contextLength: CONTEXT, threads: THREADS, parallel: PARALLEL }),
    root,
  );
  const [engine] = llamaServerChildren(gateway.child.pid!);
  if (!engine) throw new Error(`no llama-server under the ${name} gateway`);
  // Warm: the gateway's per-token path is compiled before it is measured.
  for (let round = 0; round < 4; round++) await Promise.all([1, 2, 3, 4].map((seed) => stream(gateway.url, seed)));
  return { name, gateway, enginePid: engine.pid, gatewayUs: new Map(), engineUs: new Map() };
}

async function measure(side: Side, streams: number): Promise<void> {
  const gatewayPid = side.gateway.child.pid!;
  const gatewayBefore = cpuNanoseconds(gatewayPid);
  const engineBefore = cpuNanoseconds(side.enginePid);
  let generated = 0;
  for (let round = 0; round < REQUESTS / streams; round++) {
    const counts = await Promise.all(Array.from({ length: streams }, (_, index) => stream(side.gateway.url, round * streams + index + 1)));
    generated += counts.reduce((sum, count) => sum + count, 0);
  }
  const push = (series: Map<number, number[]>, value: number) => series.set(streams, [...(series.get(streams) ?? []), value]);
  push(side.gatewayUs, (cpuNanoseconds(gatewayPid) - gatewayBefore) / 1000 / generated);
  push(side.engineUs, (cpuNanoseconds(side.enginePid) - engineBefore) / 1000 / generated);
}

async function main(): Promise<void> {
  const binary = llamaServerBinary();
  if (!binary) throw new Error('set LLAMA_SERVER (or SWITCHYARD_LLAMA_SERVER) to a llama-server binary');
  process.env.SWITCHYARD_LLAMA_SERVER = binary;
  const modelPath = path.join(benchModels(), 'random-llama-h512-l8.gguf');
  const sides: Side[] = [];
  try {
    sides.push(await startSide('this checkout', '.', modelPath));
    if (BASELINE) sides.push(await startSide(`baseline ${BASELINE}`, BASELINE, modelPath));
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      for (const streams of [1, 4]) {
        // Which side goes first alternates, so that a drift within a pair favours neither.
        for (const side of repeat % 2 === 0 ? sides : [...sides].reverse()) await measure(side, streams);
      }
    }
  } finally {
    for (const side of sides) await side.gateway.stop();
  }
  console.log(`model ${modelPath}, threads ${THREADS}, ${TOKENS} tokens per request, ${REQUESTS} requests per measurement, medians of ${REPEATS}`);
  for (const streams of [1, 4]) {
    for (const side of sides) {
      const series = side.gatewayUs.get(streams)!;
      console.log(
        `${streams} stream${streams > 1 ? 's' : ''}, ${side.name}: gateway ${median(series).toFixed(1)} µs CPU/token (${series.map((value) => value.toFixed(0)).join(' ')}), ` +
          `its llama-server ${median(side.engineUs.get(streams)!).toFixed(0)} µs CPU/token`,
      );
    }
    if (sides.length === 2) {
      const [current, baseline] = sides.map((side) => side.gatewayUs.get(streams)!);
      console.log(
        `${streams} stream${streams > 1 ? 's' : ''}: this / baseline, median of paired ratios ${median(current.map((value, index) => value / baseline[index])).toFixed(3)}`,
      );
    }
  }
}

await main();
