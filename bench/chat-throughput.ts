// Chat/completion throughput through the gateway beside node-llama-cpp called directly in-process,
// on the same benchmark-size model with the same threads:
//   (a) one stream, tokens/s            target ratio >= 0.95
//   (b) four concurrent streams, tokens/s target ratio >= 0.90
//   (c) time to first token added by the gateway, p50, target < 5 ms
// With a llama-server binary (LLAMA_SERVER, else the gateway's own: SWITCHYARD_LLAMA_SERVER, else
// the one the install step built), the llama-server engine too:
//   (d) one stream and (e) four streams through a gateway whose model is backend = "llama-server",
//       against the same llama-server (the gateway's child's own arguments) called bare, paired:
//       interleaved runs, medians of the paired ratios, target >= 0.95 at both
//   (f) the time from a crash (SIGKILL of the model's llama-server) to the next answered request
// and the in-process figures beside the bare llama-server's.
// Usage: npm run build && node dist/bench/chat-throughput.js
//   (BENCH_THREADS, BENCH_TOKENS, BENCH_REPEATS, BENCH_TTFT_REPEATS, BENCH_CRASH_REPEATS)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { getLlama, type LlamaContext, type LlamaModel } from 'node-llama-cpp';
import {
  benchModels,
  llamaServerBinary,
  benchModelToml,
  llamaServerChildren,
  median,
  printTable,
  readStream,
  startBareLlamaServer,
  startGatewayChild,
  withoutListenOptions,
  type GatewayChild,
  type Row,
} from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const TTFT_REPEATS = Number(process.env.BENCH_TTFT_REPEATS ?? 30);
// One crash by default: crashes in quick succession are what the supervisor's backoff (and, at
// last, `unavailable`) is for, which would then be measured instead of one restart.
const CRASH_REPEATS = Number(process.env.BENCH_CRASH_REPEATS ?? 1);
const PARALLEL = 4;
const PROMPT = 'Once upon a time, in a land far away, there lived';
// Each request gets a prompt of its own: the gateway keeps prompts cached per sequence, and a
// repeated prompt would measure that cache instead of the path a new request takes.
let promptNumber = 0;
const nextPrompt = () => `${++promptNumber}. ${PROMPT}`;
const CONTEXT = 1024;

async function directGeneration(
  context: LlamaContext,
  model: LlamaModel,
  sequenceCount: number,
  tokens: number,
): Promise<{ seconds: number; firstTokenMs: number }> {
  const started = performance.now();
  let firstTokenMs = Number.NaN;
  await Promise.all(
    Array.from({ length: sequenceCount }, async (_, index) => {
      const sequence = context.getSequence();
      try {
        let generated = 0;
        for await (const _token of sequence.evaluate(model.tokenize(nextPrompt(), true), { temperature: 0.8, seed: index + 1 })) {
          if (generated === 0 && Number.isNaN(firstTokenMs)) firstTokenMs = performance.now() - started;
          if (++generated >= tokens) break;
        }
      } finally {
        sequence.dispose();
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, firstTokenMs };
}

/** Streams `streams` completions at once (model "bench": the gateway's model name; a bare llama-server ignores it). */
async function gatewayGeneration(url: string, streams: number, tokens: number): Promise<{ seconds: number; firstTokenMs: number; generated: number }> {
  const started = performance.now();
  let firstTokenMs = Number.NaN;
  let generated = 0;
  await Promise.all(
    Array.from({ length: streams }, async (_, index) => {
      const response = await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'bench',
          prompt: nextPrompt(),
          max_tokens: tokens,
          temperature: 0.8,
          seed: index + 1,
          stream: true,
          stream_options: { include_usage: true },
        }),
      });
      await readStream(response, (frame) => {
        const choices = frame.choices as Array<{ text?: string }> | undefined;
        if (choices?.[0]?.text && Number.isNaN(firstTokenMs)) firstTokenMs = performance.now() - started;
        const usage = frame.usage as { completion_tokens: number } | null | undefined;
        if (usage) generated += usage.completion_tokens;
      });
    }),
  );
  return { seconds: (performance.now() - started) / 1000, firstTokenMs, generated };
}

interface LlamaServerEngineFigures {
  /** The llama-server arguments both sides ran with (where it listens left out). */
  args: string[];
  /** Why the gateway side did not run (no llama-server backend, the model did not load), or undefined. */
  gatewayError?: string;
  bareOne: number[];
  bareFour: number[];
  gatewayOne: number[];
  gatewayFour: number[];
  /** gateway / bare of each pair. */
  ratioOne: number[];
  ratioFour: number[];
  crashToServingMs: number[];
}

/**
 * The llama-server engine: a gateway whose bench model runs on it, and the same llama-server bare
 * (the gateway's child's own arguments, so the same model, threads, slots and context), paired.
 */
async function llamaServerEngine(binary: string, modelPath: string): Promise<LlamaServerEngineFigures> {
  // The gateway finds the binary here (the same one the bare side runs).
  process.env.SWITCHYARD_LLAMA_SERVER = binary;
  let gateway: GatewayChild | undefined;
  let gatewayError: string | undefined;
  try {
    gateway = await startGatewayChild(benchModelToml(modelPath, { backend: 'llama-server', contextLength: CONTEXT, threads: THREADS, parallel: PARALLEL }));
  } catch (error) {
    gatewayError = (error as Error).message;
  }
  const children = gateway ? llamaServerChildren(gateway.child.pid!) : [];
  if (gateway && children.length !== 1) gatewayError = `expected one llama-server under the gateway, found ${children.length}`;
  // Without the gateway's child to copy, the flags the backend derives from the model's keys
  // (context_length is per slot, as in the in-process engine).
  const args =
    children.length === 1
      ? withoutListenOptions(children[0].args)
      : ['--model', modelPath, '--ctx-size', String(CONTEXT * PARALLEL), '--parallel', String(PARALLEL), '--threads', String(THREADS)];
  const figures: LlamaServerEngineFigures = {
    args,
    gatewayError,
    bareOne: [],
    bareFour: [],
    gatewayOne: [],
    gatewayFour: [],
    ratioOne: [],
    ratioFour: [],
    crashToServingMs: [],
  };
  try {
    const bare = await startBareLlamaServer(binary, args);
    try {
      const tokensPerSecond = async (url: string, streams: number) => {
        const run = await gatewayGeneration(url, streams, TOKENS);
        return run.generated / run.seconds;
      };
      await tokensPerSecond(bare.url, 1);
      if (gateway && !gatewayError) await tokensPerSecond(gateway.url, 1);
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        for (const streams of [1, 4]) {
          const [bareSeries, gatewaySeries, ratios] =
            streams === 1 ? [figures.bareOne, figures.gatewayOne, figures.ratioOne] : [figures.bareFour, figures.gatewayFour, figures.ratioFour];
          if (!gateway || gatewayError) {
            bareSeries.push(await tokensPerSecond(bare.url, streams));
            continue;
          }
          // Which side goes first alternates, so that a drift within a pair favours neither.
          let bareFigure: number;
          let gatewayFigure: number;
          if (repeat % 2 === 0) {
            bareFigure = await tokensPerSecond(bare.url, streams);
            gatewayFigure = await tokensPerSecond(gateway.url, streams);
          } else {
            gatewayFigure = await tokensPerSecond(gateway.url, streams);
            bareFigure = await tokensPerSecond(bare.url, streams);
          }
          bareSeries.push(bareFigure);
          gatewaySeries.push(gatewayFigure);
          ratios.push(gatewayFigure / bareFigure);
        }
      }
    } finally {
      await bare.stop();
    }
    if (gateway && !gatewayError) {
      for (let repeat = 0; repeat < CRASH_REPEATS; repeat++) figures.crashToServingMs.push(await crashToServing(gateway));
    }
  } finally {
    await gateway?.stop();
  }
  return figures;
}

/** SIGKILLs the gateway's llama-server and measures until a completion through the gateway answers 200 again. */
async function crashToServing(gateway: GatewayChild): Promise<number> {
  const [victim] = llamaServerChildren(gateway.child.pid!);
  if (!victim) throw new Error('no llama-server under the gateway to crash');
  const body = JSON.stringify({ model: 'bench', prompt: nextPrompt(), max_tokens: 1 });
  const killedAt = performance.now();
  process.kill(victim.pid, 'SIGKILL');
  for (;;) {
    const status = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(30_000),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        return response.status;
      })
      .catch(() => 0);
    const elapsed = performance.now() - killedAt;
    if (status === 200) {
      const [successor] = llamaServerChildren(gateway.child.pid!);
      if (!successor || successor.pid === victim.pid) throw new Error(`answered 200 after the crash, but no new llama-server is running`);
      return elapsed;
    }
    if (elapsed > CRASH_TIMEOUT_MS) {
      const models = await fetch(`${gateway.url}/v1/models`)
        .then((response) => response.text())
        .catch((error: Error) => error.message);
      throw new Error(`not serving ${CRASH_TIMEOUT_MS / 1000} s after the crash (last status ${status}): ${models}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const CRASH_TIMEOUT_MS = 120_000;

async function main(): Promise<void> {
  // The direct baseline runs with the libuv thread pool the gateway gives node-llama-cpp (see
  // src/cli.cts); its size is fixed when the pool starts, which loading this module already did.
  if (process.env.UV_THREADPOOL_SIZE === undefined) {
    const rerun = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
    process.exit(rerun.status ?? 1);
  }
  const modelPath = path.join(benchModels(), 'random-llama-h512-l8.gguf');
  console.log(
    `model ${modelPath}, threads ${THREADS}, ${TOKENS} tokens per stream, ${REPEATS} paired repeats (medians), CPU count ${(await import('node:os')).cpus().length}`,
  );

  const llama = await getLlama({ gpu: 'auto', build: 'never' });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: CONTEXT, sequences: 4, threads: THREADS });
  const gateway = await startGatewayChild(benchModelToml(modelPath, { backend: 'llama', contextLength: CONTEXT, threads: THREADS, parallel: PARALLEL }));
  const figures = {
    directOne: [] as number[],
    gatewayOne: [] as number[],
    directFour: [] as number[],
    gatewayFour: [] as number[],
    directTtft: [] as number[],
    gatewayTtft: [] as number[],
  };
  try {
    // Warm both sides once.
    await directGeneration(context, model, 1, 8);
    await gatewayGeneration(gateway.url, 1, 8);
    // Paired runs, one thing at a time, alternating so that a noisy neighbour hits both sides alike.
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      figures.directOne.push(TOKENS / (await directGeneration(context, model, 1, TOKENS)).seconds);
      const one = await gatewayGeneration(gateway.url, 1, TOKENS);
      figures.gatewayOne.push(one.generated / one.seconds);
      figures.directFour.push((4 * TOKENS) / (await directGeneration(context, model, 4, TOKENS)).seconds);
      const four = await gatewayGeneration(gateway.url, 4, TOKENS);
      figures.gatewayFour.push(four.generated / four.seconds);
    }
    for (let repeat = 0; repeat < TTFT_REPEATS; repeat++) {
      figures.directTtft.push((await directGeneration(context, model, 1, 1)).firstTokenMs);
      figures.gatewayTtft.push((await gatewayGeneration(gateway.url, 1, 1)).firstTokenMs);
    }
  } finally {
    await gateway.stop();
    await context.dispose();
    await model.dispose();
  }
  const rows: Row[] = [
    { what: '(a) one stream', gateway: median(figures.gatewayOne), baseline: median(figures.directOne), unit: 'tokens/s', better: 'higher', target: '>= 0.95' },
    {
      what: '(b) four concurrent streams, aggregate',
      gateway: median(figures.gatewayFour),
      baseline: median(figures.directFour),
      unit: 'tokens/s',
      better: 'higher',
      target: '>= 0.90',
    },
    { what: '(c) time to first token, p50', gateway: median(figures.gatewayTtft), baseline: median(figures.directTtft), unit: 'ms', better: 'lower' },
  ];
  printTable('chat throughput: gateway (separate process, HTTP + SSE) vs node-llama-cpp in-process', rows);
  console.log(`(c) time to first token added by the gateway, p50: ${(median(figures.gatewayTtft) - median(figures.directTtft)).toFixed(2)} ms (target < 5 ms)`);
  console.log(
    `raw one-stream tokens/s  gateway ${figures.gatewayOne.map((value) => value.toFixed(0)).join(' ')} | direct ${figures.directOne.map((value) => value.toFixed(0)).join(' ')}`,
  );
  console.log(
    `raw four-stream tokens/s gateway ${figures.gatewayFour.map((value) => value.toFixed(0)).join(' ')} | direct ${figures.directFour.map((value) => value.toFixed(0)).join(' ')}`,
  );
  const binary = llamaServerBinary();
  if (!binary) {
    console.log('(no llama-server binary: set LLAMA_SERVER or SWITCHYARD_LLAMA_SERVER, or build one with npm ci, to run the llama-server engine too)');
    return;
  }
  const engine = await llamaServerEngine(binary, modelPath);
  console.log(`\nllama-server ${binary} ${engine.args.join(' ')}`);
  const inProcessRows: Row[] = [
    {
      what: 'in-process gateway, one stream',
      gateway: median(figures.gatewayOne),
      baseline: median(engine.bareOne),
      unit: 'tokens/s',
      better: 'higher',
    },
    {
      what: 'in-process gateway, four streams',
      gateway: median(figures.gatewayFour),
      baseline: median(engine.bareFour),
      unit: 'tokens/s',
      better: 'higher',
    },
  ];
  if (engine.gatewayError !== undefined) {
    console.log(`the gateway on backend = "llama-server" did not run: ${engine.gatewayError}`);
    printTable('the in-process gateway vs the bare llama-server (same model and threads, HTTP included; medians, not paired)', inProcessRows);
    return;
  }
  printTable('llama-server engine: gateway (backend = "llama-server") vs the same llama-server bare; ratio = median of paired ratios', [
    {
      what: '(d) one stream',
      gateway: median(engine.gatewayOne),
      baseline: median(engine.bareOne),
      ratio: median(engine.ratioOne),
      unit: 'tokens/s',
      better: 'higher',
      target: '>= 0.95',
    },
    {
      what: '(e) four concurrent streams, aggregate',
      gateway: median(engine.gatewayFour),
      baseline: median(engine.bareFour),
      ratio: median(engine.ratioFour),
      unit: 'tokens/s',
      better: 'higher',
      target: '>= 0.95',
    },
    ...inProcessRows,
  ]);
  const crashes = engine.crashToServingMs;
  console.log(
    `(f) crash to serving again (SIGKILL of the model's llama-server until a completion answers 200), median of ${crashes.length}: ${median(crashes).toFixed(0)} ms (${crashes.map((value) => value.toFixed(0)).join(' ')})`,
  );
  const paired = (gatewaySeries: number[], bareSeries: number[]) =>
    gatewaySeries.map((value, index) => `${value.toFixed(0)}/${bareSeries[index].toFixed(0)}`).join(' ');
  console.log(`raw one-stream tokens/s  gateway/bare ${paired(engine.gatewayOne, engine.bareOne)}`);
  console.log(`raw four-stream tokens/s gateway/bare ${paired(engine.gatewayFour, engine.bareFour)}`);
}

await main();
