// The prompt cache: time to first token on a long prompt, first seen (cold) and then again with its
// long prefix repeated and a new ending (warm), streamed from /v1/completions:
//   (a) cold and (b) warm, through a gateway whose model is backend = "llama-server", against the
//       same llama-server (the gateway's child's own arguments) called bare, paired: interleaved
//       runs, medians of the paired ratios
//   (c) what the cache saves (cold / warm) on each side
// and the in-process engine's figures (a gateway whose model is backend = "llama") beside the bare
// llama-server's. Each repeat opens with a prefix of its own, so that its first request finds
// nothing of it cached; the cached tokens each side reported are printed as a check.
// Needs a llama-server binary: LLAMA_SERVER, else SWITCHYARD_LLAMA_SERVER.
// Usage: npm run build && node dist/bench/prompt-cache.js
//   (BENCH_THREADS, BENCH_PROMPT_TOKENS, BENCH_REPEATS)
import path from 'node:path';
import {
  benchModels,
  benchModelToml,
  llamaServerBinary,
  llamaServerChildren,
  median,
  printTable,
  readStream,
  startBareLlamaServer,
  startGatewayChild,
  withoutListenOptions,
  type Row,
} from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 1);
/** About this many prompt tokens (the model's 32k vocabulary gives about one per word here). */
const PROMPT_TOKENS = Number(process.env.BENCH_PROMPT_TOKENS ?? 1024);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const CONTEXT = Math.max(2048, 2 * PROMPT_TOKENS);
const SENTENCE = 'The quick brown fox jumps over the lazy dog while the cat watches from the old stone wall.';

/** A long prefix no earlier request began with (its first words are the repeat's own). */
function longPrefix(repeat: number): string {
  const sentences = Math.ceil(PROMPT_TOKENS / 20);
  return `Report number ${repeat} ${'x'.repeat(repeat % 7)}.\n${Array.from({ length: sentences }, (_, index) => `${index}. ${SENTENCE}`).join('\n')}`;
}

interface FirstToken {
  ms: number;
  promptTokens: number;
  cachedTokens: number | undefined;
}

/** Streams one completion of `prompt` and times its first text (model "bench": the gateway's name; a bare llama-server ignores it). */
async function timeToFirstToken(url: string, prompt: string): Promise<FirstToken> {
  const started = performance.now();
  let ms = Number.NaN;
  let usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } | undefined;
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'bench', prompt, max_tokens: 4, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  await readStream(response, (frame) => {
    const choices = frame.choices as Array<{ text?: string }> | undefined;
    if (choices?.[0]?.text !== undefined && Number.isNaN(ms)) ms = performance.now() - started;
    if (frame.usage) usage = frame.usage as typeof usage;
  });
  return { ms, promptTokens: usage?.prompt_tokens ?? Number.NaN, cachedTokens: usage?.prompt_tokens_details?.cached_tokens };
}

interface Side {
  cold: FirstToken[];
  warm: FirstToken[];
}

const newSide = (): Side => ({ cold: [], warm: [] });

/** One repeat on one side: the new prefix with one ending, then the same prefix with another. */
async function coldThenWarm(url: string, repeat: number, side: Side): Promise<void> {
  const prefix = longPrefix(repeat);
  side.cold.push(await timeToFirstToken(url, `${prefix}\nFirst question: what did the fox do?`));
  side.warm.push(await timeToFirstToken(url, `${prefix}\nSecond question: where was the cat?`));
}

function gatewayToml(modelPath: string, backend: 'llama' | 'llama-server'): string {
  return benchModelToml(modelPath, { backend, contextLength: CONTEXT, threads: THREADS, parallel: 1 });
}

const msOf = (runs: FirstToken[]) => median(runs.map((run) => run.ms));
const cachedOf = (runs: FirstToken[]) => runs.map((run) => `${run.cachedTokens ?? '?'}/${run.promptTokens}`).join(' ');

async function main(): Promise<void> {
  const binary = llamaServerBinary();
  if (!binary) throw new Error('this benchmark compares with llama-server: set LLAMA_SERVER or SWITCHYARD_LLAMA_SERVER to its binary');
  // The gateway finds the binary here (the same one the bare side runs).
  process.env.SWITCHYARD_LLAMA_SERVER = binary;
  const modelPath = path.join(benchModels(), 'random-llama-h512-l8.gguf');
  console.log(`model ${modelPath}, threads ${THREADS}, about ${PROMPT_TOKENS} prompt tokens, ${REPEATS} paired repeats (medians)`);

  const gateway = newSide();
  const bare = newSide();
  const inProcess = newSide();
  const coldRatios: number[] = [];
  const warmRatios: number[] = [];
  let repeat = 0;

  const engineGateway = await startGatewayChild(gatewayToml(modelPath, 'llama-server'));
  try {
    const children = llamaServerChildren(engineGateway.child.pid!);
    if (children.length !== 1) throw new Error(`expected one llama-server under the gateway, found ${children.length}`);
    const args = withoutListenOptions(children[0].args);
    console.log(`llama-server ${binary} ${args.join(' ')}`);
    const server = await startBareLlamaServer(binary, args);
    try {
      // Warm both sides once (first-request costs that are not the prompt's).
      await coldThenWarm(engineGateway.url, repeat, newSide());
      await coldThenWarm(server.url, repeat++, newSide());
      for (let pair = 0; pair < REPEATS; pair++, repeat++) {
        // Which side goes first alternates, so that a drift within a pair favours neither.
        const order: Array<[string, Side]> = [
          [engineGateway.url, gateway],
          [server.url, bare],
        ];
        if (pair % 2 === 1) order.reverse();
        for (const [url, side] of order) await coldThenWarm(url, repeat, side);
        coldRatios.push(gateway.cold.at(-1)!.ms / bare.cold.at(-1)!.ms);
        warmRatios.push(gateway.warm.at(-1)!.ms / bare.warm.at(-1)!.ms);
      }
    } finally {
      await server.stop();
    }
  } finally {
    await engineGateway.stop();
  }

  const inProcessGateway = await startGatewayChild(gatewayToml(modelPath, 'llama'));
  try {
    await coldThenWarm(inProcessGateway.url, repeat++, newSide());
    for (let run = 0; run < REPEATS; run++, repeat++) await coldThenWarm(inProcessGateway.url, repeat, inProcess);
  } finally {
    await inProcessGateway.stop();
  }

  const rows: Row[] = [
    {
      what: '(a) time to first token, new long prompt',
      gateway: msOf(gateway.cold),
      baseline: msOf(bare.cold),
      ratio: median(coldRatios),
      unit: 'ms',
      better: 'lower',
    },
    {
      what: '(b) time to first token, repeated long prefix',
      gateway: msOf(gateway.warm),
      baseline: msOf(bare.warm),
      ratio: median(warmRatios),
      unit: 'ms',
      better: 'lower',
    },
    {
      what: '(c) what the cache saves, cold / warm',
      gateway: msOf(gateway.cold) / msOf(gateway.warm),
      baseline: msOf(bare.cold) / msOf(bare.warm),
      unit: '×',
      better: 'higher',
    },
    { what: 'in-process gateway, new long prompt', gateway: msOf(inProcess.cold), baseline: msOf(bare.cold), unit: 'ms', better: 'lower' },
    { what: 'in-process gateway, repeated long prefix', gateway: msOf(inProcess.warm), baseline: msOf(bare.warm), unit: 'ms', better: 'lower' },
    {
      what: 'in-process gateway, cold / warm',
      gateway: msOf(inProcess.cold) / msOf(inProcess.warm),
      baseline: msOf(bare.cold) / msOf(bare.warm),
      unit: '×',
      better: 'higher',
    },
  ];
  printTable(
    'prompt cache: gateway (backend = "llama-server") vs the same llama-server bare; ratio = median of paired ratios (the in-process rows: not paired)',
    rows,
  );
  console.log(`cached/prompt tokens, cold: gateway ${cachedOf(gateway.cold)} | bare ${cachedOf(bare.cold)} | in-process ${cachedOf(inProcess.cold)}`);
  console.log(`cached/prompt tokens, warm: gateway ${cachedOf(gateway.warm)} | bare ${cachedOf(bare.warm)} | in-process ${cachedOf(inProcess.warm)}`);
}

await main();
