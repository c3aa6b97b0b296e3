// Embedding throughput and latency through the gateway beside ONNX Runtime called directly
// in-process, on the same benchmark-size model (minilm-shape) with the same threads:
//   (a) 32 concurrent clients, one short sentence each: gateway vs the session at its best batch size   target >= 0.85
//   (b) the same load with batching off vs on
//   (c) p50 and p99 latency at concurrency 1 and 32
//   (d) requests/s through the gateway on the tiny fixture model at concurrency 32 (the HTTP path itself)
// Usage: npm run build && node dist/bench/embeddings-throughput.js   (BENCH_THREADS, BENCH_SECONDS, BENCH_REPEATS)
// The gateway's load comes from wrk (apt-get install wrk), which leaves the cores to the gateway.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { benchModels, median, printTable, startGatewayChild, wrkLoad, type LoadResult, type Row } from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
/** Length of each load through the gateway. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Sentences per direct throughput measurement (about a second). */
const DIRECT_SENTENCES = 384;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const CONCURRENCY = 32;

const WORDS = 'the quick brown fox jumps over a lazy dog while small birds sing in tall green trees near the quiet river bank'.split(' ');

/**
 * The `index`-th of an endless list of distinct short sentences (8 to 14 words): the digits of
 * `index` in base WORDS.length pick the words, so no two are equal and the gateway's tokenizer
 * cache never answers a repeat. SENTENCE_LUA computes the same list inside wrk.
 */
function sentence(index: number): string {
  const length = 8 + (index % 7);
  const words: string[] = [];
  let rest = index;
  for (let position = 0; position < length; position++) {
    words.push(WORDS[((rest % WORDS.length) + position * 5) % WORDS.length]);
    rest = Math.floor(rest / WORDS.length);
  }
  return words.join(' ');
}

const SENTENCE_LUA = `
local words = { ${WORDS.map((word) => `"${word}"`).join(', ')} }
local counter, prefix, suffix
function init(args)
  counter, prefix, suffix = tonumber(args[1]), args[2], args[3]
end
function body()
  local index, rest, parts = counter, counter, {}
  counter = counter + 1
  for position = 0, 7 + index % 7 do
    parts[position + 1] = words[(rest % #words + position * 5) % #words + 1]
    rest = math.floor(rest / #words)
  end
  return prefix .. table.concat(parts, " ") .. suffix
end
`;

/** Index of the next sentence never sent yet, shared by the direct and the gateway loads. */
let nextSentence = 0;

function takeSentences(count: number): string[] {
  const first = nextSentence;
  nextSentence += count;
  return Array.from({ length: count }, (_, offset) => sentence(first + offset));
}

interface DirectSession {
  /** Sentences/s with the session called in batches of `batch`, tokenization and pooling included. */
  throughput(batch: number): Promise<number>;
  release(): Promise<void>;
}

/** ONNX Runtime called in-process the way an application would: tokenize, run, mean-pool. */
async function openDirectSession(folder: string): Promise<DirectSession> {
  env.allowRemoteModels = false;
  const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  const session = await ort.InferenceSession.create(path.join(folder, 'model.onnx'), {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const embedBatch = async (texts: string[]) => {
    const encoded = tokenizer(texts, { padding: true, truncation: true }) as unknown as Record<string, { data: BigInt64Array; dims: number[] }>;
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) feeds[name] = new ort.Tensor('int64', encoded[name].data, encoded[name].dims);
    const output = await session.run(feeds);
    const hidden = output.last_hidden_state.data as Float32Array;
    const [batch, length, width] = output.last_hidden_state.dims as number[];
    const mask = encoded.attention_mask.data;
    for (let row = 0; row < batch; row++) {
      const vector = new Float32Array(width);
      let count = 0;
      for (let position = 0; position < length; position++) {
        if (mask[row * length + position] === 0n) continue;
        count++;
        const offset = (row * length + position) * width;
        for (let dimension = 0; dimension < width; dimension++) vector[dimension] += hidden[offset + dimension];
      }
      let norm = 0;
      for (let dimension = 0; dimension < width; dimension++) norm += (vector[dimension] / count) ** 2;
      void norm;
    }
  };
  await embedBatch(takeSentences(8));
  return {
    async throughput(batch: number): Promise<number> {
      const total = DIRECT_SENTENCES;
      const started = performance.now();
      for (let done = 0; done < total; done += batch) await embedBatch(takeSentences(batch));
      return total / ((performance.now() - started) / 1000);
    },
    release: () => session.release(),
  };
}

/**
 * Median throughput at each batch size, measured in interleaved rounds so that a slow minute
 * of the machine does not fall on one size only, and the size with the best median.
 */
async function sweepBatchSizes(direct: DirectSession): Promise<{ bestBatch: number; perBatch: Record<number, number> }> {
  const sizes = [1, 8, 16, 32, 64];
  const runs: Record<number, number[]> = Object.fromEntries(sizes.map((batch) => [batch, []]));
  for (let round = 0; round < 5; round++) for (const batch of sizes) runs[batch].push(await direct.throughput(batch));
  const perBatch: Record<number, number> = Object.fromEntries(sizes.map((batch) => [batch, median(runs[batch])]));
  const bestBatch = sizes.reduce((best, batch) => (perBatch[batch] > perBatch[best] ? batch : best));
  return { bestBatch, perBatch };
}

/** Requests of one new sentence each for `model` from `concurrency` clients for SECONDS. */
async function gatewayLoad(url: string, model: string, concurrency: number, seconds = SECONDS): Promise<LoadResult> {
  const [prefix, suffix] = JSON.stringify({ model, input: '\0', encoding_format: 'base64' }).split('\\u0000');
  const load = await wrkLoad(`${url}/v1/embeddings`, SENTENCE_LUA, [String(nextSentence), prefix, suffix], concurrency, seconds);
  // wrk may have built a few bodies it never sent; skipping past them costs nothing.
  nextSentence += load.requests + 10 * concurrency;
  return load;
}

/** Mean inputs per engine run so far, from the gateway's batch-size histogram. */
async function meanBatch(url: string, model: string): Promise<{ mean: number; runs: number }> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const sum = Number(new RegExp(`switchyard_embedding_batch_size_sum\\{model="${model}"\\} ([\\d.]+)`).exec(metrics)?.[1]);
  const runs = Number(new RegExp(`switchyard_embedding_batch_size_count\\{model="${model}"\\} ([\\d.]+)`).exec(metrics)?.[1]);
  return { mean: sum / runs, runs };
}

function modelConfig(id: string, folder: string, batching: boolean): string {
  return `
[api.models.${id}]
path = "${folder}"
type = "embedding"
intra_op_threads = ${THREADS}
inter_op_threads = 1
execution_providers = ["cpu"]
batching = ${batching}
max_batch_size = 64
`;
}

async function main(): Promise<void> {
  const folder = path.join(benchModels(), 'minilm-shape');
  const tiny = path.resolve('..', 'shared', 'models', 'tiny-bert-embed');
  console.log(`model ${folder}, intra-op threads ${THREADS}, ${SECONDS} s per load through the gateway, concurrency ${CONCURRENCY}`);

  const direct = await openDirectSession(folder);
  const sweep = await sweepBatchSizes(direct);
  console.log(
    `direct session throughput by batch size (sentences/s): ${Object.entries(sweep.perBatch)
      .map(([batch, value]) => `${batch}: ${value.toFixed(0)}`)
      .join(', ')}`,
  );

  const gateway = await startGatewayChild(
    modelConfig('batched', folder, true) +
      modelConfig('unbatched', folder, false) +
      modelConfig('tiny', tiny, true).replace(`intra_op_threads = ${THREADS}`, 'intra_op_threads = 1'),
  );
  try {
    // Warm-up: the direct side is warm from its batch-size sweep; the gateway's code paths take a
    // few thousand requests to be optimised (its main thread's CPU per request falls by a third).
    for (let round = 0; round < 2; round++) {
      await gatewayLoad(gateway.url, 'batched', CONCURRENCY);
      await gatewayLoad(gateway.url, 'unbatched', CONCURRENCY);
    }
    // (a) Each gateway load sits between two measurements of the session at its best batch size
    // and is compared with their mean, so that a swing of the machine's speed (2x on a shared
    // machine) during either side shows on both.
    const bestDirect = () => direct.throughput(sweep.bestBatch);
    const directBest: number[] = [await bestDirect()];
    const batched: LoadResult[] = [];
    const pairedRatios: number[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      const load = await gatewayLoad(gateway.url, 'batched', CONCURRENCY);
      directBest.push(await bestDirect());
      batched.push(load);
      pairedRatios.push(load.throughput / ((directBest[repeat] + directBest[repeat + 1]) / 2));
    }
    // (b) Batching on and off, alternately.
    const batchingOn: LoadResult[] = [];
    const batchingOff: LoadResult[] = [];
    for (let repeat = 0; repeat < 3; repeat++) {
      batchingOn.push(await gatewayLoad(gateway.url, 'batched', CONCURRENCY));
      batchingOff.push(await gatewayLoad(gateway.url, 'unbatched', CONCURRENCY));
    }
    const best = median(directBest);
    // Read before the concurrency-1 load, whose batches of one would drag the mean down.
    const batchesAt32 = await meanBatch(gateway.url, 'batched');
    const single = await gatewayLoad(gateway.url, 'batched', 1);
    // Direct latency of one sentence at batch 1 is 1000 / throughput at batch 1.
    const directSingleMs = 1000 / sweep.perBatch[1];
    await gatewayLoad(gateway.url, 'tiny', CONCURRENCY, 1);
    const tinyRuns: LoadResult[] = [];
    for (let repeat = 0; repeat < 3; repeat++) tinyRuns.push(await gatewayLoad(gateway.url, 'tiny', CONCURRENCY));

    const medianOf = (loads: LoadResult[], figure: keyof LoadResult) => median(loads.map((load) => load[figure]));
    const rows: Row[] = [
      // Its ratio is the median of the paired ratios (each load against the session just before and after it).
      {
        what: `(a) 32 clients, gateway vs session at its best batch (${sweep.bestBatch})`,
        gateway: medianOf(batched, 'throughput'),
        baseline: best,
        ratio: median(pairedRatios),
        unit: 'sentences/s',
        better: 'higher',
        target: '>= 0.85',
      },
      {
        what: '(b) 32 clients, batching on vs off',
        gateway: medianOf(batchingOn, 'throughput'),
        baseline: medianOf(batchingOff, 'throughput'),
        unit: 'sentences/s',
        better: 'higher',
        target: 'engine: 1.7-2x',
      },
      { what: '(b) engine itself, batch 32 vs batch 1', gateway: sweep.perBatch[32], baseline: sweep.perBatch[1], unit: 'sentences/s', better: 'higher' },
      { what: '(c) concurrency 1, p50 latency vs session batch 1', gateway: single.p50Ms, baseline: directSingleMs, unit: 'ms', better: 'lower' },
      { what: '(c) concurrency 1, p99 latency vs session batch 1', gateway: single.p99Ms, baseline: directSingleMs, unit: 'ms', better: 'lower' },
      {
        what: '(c) concurrency 32, p50 latency vs 32/best throughput',
        gateway: medianOf(batched, 'p50Ms'),
        baseline: (32 * 1000) / best,
        unit: 'ms',
        better: 'lower',
      },
      {
        what: '(c) concurrency 32, p99 latency vs 32/best throughput',
        gateway: medianOf(batched, 'p99Ms'),
        baseline: (32 * 1000) / best,
        unit: 'ms',
        better: 'lower',
      },
    ];
    printTable('embeddings: gateway (separate process, HTTP, base64) vs ONNX Runtime in-process', rows);
    console.log(
      `(d) tiny-bert-embed through the gateway at concurrency 32: ${medianOf(tinyRuns, 'throughput').toFixed(0)} requests/s (runs ${tinyRuns.map((load) => load.throughput.toFixed(0)).join(' ')})`,
    );
    console.log(`mean engine batch through the gateway at concurrency 32 (batching on): ${batchesAt32.mean.toFixed(1)} inputs over ${batchesAt32.runs} runs`);
    console.log(`load generator (wrk) CPU during the batched loads: ${(medianOf(batched, 'clientCores') * 100).toFixed(1)}% of one core`);
    console.log(
      `raw: session at batch ${sweep.bestBatch} ${directBest.map((value) => value.toFixed(0)).join(' ')} | gateway between them ${batched.map((load) => load.throughput.toFixed(0)).join(' ')}`,
    );
    console.log(`(a) paired ratios ${pairedRatios.map((ratio) => ratio.toFixed(3)).join(' ')}, median ${median(pairedRatios).toFixed(3)}`);
    console.log(
      `raw (b): batching on ${batchingOn.map((load) => load.throughput.toFixed(0)).join(' ')} | off ${batchingOff.map((load) => load.throughput.toFixed(0)).join(' ')}`,
    );
  } finally {
    await gateway.stop();
    await direct.release();
  }
}

await main();
