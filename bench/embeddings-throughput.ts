// Embedding throughput and latency through the gateway beside ONNX Runtime called directly
// in-process, on the same benchmark-size model (minilm-shape) with the same threads:
//   (a) 32 concurrent clients, one short sentence each: gateway vs the session at its best batch size   target >= 0.85
//   (b) the same load with batching off vs on
//   (c) p50 and p99 latency at concurrency 1 and 32
//   (d) requests/s through the gateway on the tiny fixture model at concurrency 32 (the HTTP path itself)
// Usage: npm run build && node dist/bench/embeddings-throughput.js   (BENCH_THREADS, BENCH_REQUESTS, BENCH_REPEATS)
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { benchModels, median, percentile, postJson, printTable, startGatewayChild, type Row } from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 640);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const CONCURRENCY = 32;

const WORDS = 'the quick brown fox jumps over a lazy dog while small birds sing in tall green trees near the quiet river bank'.split(' ');
/** Short sentences of 8 to 14 words, deterministic. */
const SENTENCES = Array.from({ length: 256 }, (_, index) => {
  const length = 8 + (index % 7);
  return Array.from({ length }, (_, word) => WORDS[(index * 7 + word * 3) % WORDS.length]).join(' ');
});

interface DirectSession {
  /** Sentences/s with the session called in batches of `batch`, tokenization and pooling included. */
  throughput(batch: number): Promise<number>;
  release(): Promise<void>;
}

/** ONNX Runtime called in-process the way an application would: tokenize, run, mean-pool. */
async function openDirectSession(folder: string): Promise<DirectSession> {
  env.allowRemoteModels = false;
  const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  const session = await ort.InferenceSession.create(path.join(folder, 'model.onnx'), { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
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
  await embedBatch(SENTENCES.slice(0, 8));
  return {
    async throughput(batch: number): Promise<number> {
      const total = Math.min(REQUESTS, 384);
      const started = performance.now();
      for (let offset = 0; offset < total; offset += batch) await embedBatch(SENTENCES.slice(offset % 256, (offset % 256) + batch).concat(offset % 256 + batch > 256 ? SENTENCES.slice(0, (offset % 256) + batch - 256) : []));
      return total / ((performance.now() - started) / 1000);
    },
    release: () => session.release(),
  };
}

/** Median throughput at each batch size, and the best of them. */
async function sweepBatchSizes(direct: DirectSession): Promise<{ bestBatch: number; perBatch: Record<number, number> }> {
  const perBatch: Record<number, number> = {};
  for (const batch of [1, 8, 16, 32, 64]) {
    const runs: number[] = [];
    for (let repeat = 0; repeat < 3; repeat++) runs.push(await direct.throughput(batch));
    perBatch[batch] = median(runs);
  }
  const [bestBatch] = Object.entries(perBatch).sort((left, right) => right[1] - left[1])[0];
  return { bestBatch: Number(bestBatch), perBatch };
}

/** `requests` one-sentence requests from `concurrency` clients; returns sentences/s and latencies. */
async function gatewayLoad(url: string, model: string, concurrency: number, requests: number): Promise<{ throughput: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const client = async () => {
    while (next < requests) {
      const index = next++;
      const sent = performance.now();
      const response = await postJson(`${url}/v1/embeddings`, JSON.stringify({ model, input: SENTENCES[index % SENTENCES.length], encoding_format: 'base64' }));
      if (response.status !== 200) throw new Error(`status ${response.status}: ${response.body.toString()}`);
      latencies.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return { throughput: requests / ((performance.now() - started) / 1000), latencies };
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
  console.log(`model ${folder}, intra-op threads ${THREADS}, ${REQUESTS} requests per load, concurrency ${CONCURRENCY}`);

  const direct = await openDirectSession(folder);
  const sweep = await sweepBatchSizes(direct);
  console.log(`direct session throughput by batch size (sentences/s): ${Object.entries(sweep.perBatch).map(([batch, value]) => `${batch}: ${value.toFixed(0)}`).join(', ')}`);

  const gateway = await startGatewayChild(modelConfig('batched', folder, true) + modelConfig('unbatched', folder, false) + modelConfig('tiny', tiny, true).replace(`intra_op_threads = ${THREADS}`, 'intra_op_threads = 1'));
  try {
    // Warm-up as long as one measured load: the direct side is warm from its batch-size sweep, and
    // the gateway's code paths take a few hundred requests to be optimised.
    await gatewayLoad(gateway.url, 'batched', CONCURRENCY, REQUESTS);
    await gatewayLoad(gateway.url, 'unbatched', CONCURRENCY, REQUESTS);
    // Paired repeats: the session at its best batch, then the gateway with batching on and off, so
    // that the machine's swings (2x on a shared machine) hit baseline and gateway alike.
    const directBest: number[] = [];
    const batched: number[] = [];
    const unbatched: number[] = [];
    let batchedLatencies: number[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      directBest.push(await direct.throughput(sweep.bestBatch));
      const on = await gatewayLoad(gateway.url, 'batched', CONCURRENCY, REQUESTS);
      batched.push(on.throughput);
      batchedLatencies = batchedLatencies.concat(on.latencies);
      unbatched.push((await gatewayLoad(gateway.url, 'unbatched', CONCURRENCY, REQUESTS)).throughput);
    }
    const best = median(directBest);
    // Read before the concurrency-1 load, whose batches of one would drag the mean down.
    const batchesAt32 = await meanBatch(gateway.url, 'batched');
    const single = await gatewayLoad(gateway.url, 'batched', 1, 200);
    // Direct latency of one sentence at batch 1 is 1000 / throughput at batch 1.
    const directSingleMs = 1000 / sweep.perBatch[1];
    await gatewayLoad(gateway.url, 'tiny', CONCURRENCY, 200);
    const tinyRuns: number[] = [];
    for (let repeat = 0; repeat < 3; repeat++) tinyRuns.push((await gatewayLoad(gateway.url, 'tiny', CONCURRENCY, 2000)).throughput);

    const rows: Row[] = [
      { what: `(a) 32 clients, gateway vs session at best batch (${sweep.bestBatch})`, gateway: median(batched), baseline: best, unit: 'sentences/s', better: 'higher', target: '>= 0.85' },
      { what: '(b) 32 clients, batching on vs off', gateway: median(batched), baseline: median(unbatched), unit: 'sentences/s', better: 'higher', target: 'engine: 1.7-2x' },
      { what: '(b) engine itself, batch 32 vs batch 1', gateway: sweep.perBatch[32], baseline: sweep.perBatch[1], unit: 'sentences/s', better: 'higher' },
      { what: '(c) concurrency 1, p50 latency vs session batch 1', gateway: median(single.latencies), baseline: directSingleMs, unit: 'ms', better: 'lower' },
      { what: '(c) concurrency 1, p99 latency vs session batch 1', gateway: percentile(single.latencies, 99), baseline: directSingleMs, unit: 'ms', better: 'lower' },
      { what: '(c) concurrency 32, p50 latency vs 32/best throughput', gateway: median(batchedLatencies), baseline: (32 * 1000) / best, unit: 'ms', better: 'lower' },
      { what: '(c) concurrency 32, p99 latency vs 32/best throughput', gateway: percentile(batchedLatencies, 99), baseline: (32 * 1000) / best, unit: 'ms', better: 'lower' },
    ];
    printTable('embeddings: gateway (separate process, HTTP, base64) vs ONNX Runtime in-process', rows);
    console.log(`(d) tiny-bert-embed through the gateway at concurrency 32: ${median(tinyRuns).toFixed(0)} requests/s (runs ${tinyRuns.map((value) => value.toFixed(0)).join(' ')})`);
    console.log(`mean engine batch through the gateway at concurrency 32 (batching on): ${batchesAt32.mean.toFixed(1)} inputs over ${batchesAt32.runs} runs`);
    console.log(`raw, paired: session at batch ${sweep.bestBatch} ${directBest.map((value) => value.toFixed(0)).join(' ')} | gateway batched ${batched.map((value) => value.toFixed(0)).join(' ')} | unbatched ${unbatched.map((value) => value.toFixed(0)).join(' ')}`);
    console.log(`(a) paired ratios ${batched.map((value, index) => (value / directBest[index]).toFixed(3)).join(' ')}`);
  } finally {
    await gateway.stop();
    await direct.release();
  }
}

await main();
