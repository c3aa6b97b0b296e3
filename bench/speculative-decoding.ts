// Speculative decoding (`draft_model`) on the llama-server engine: tokens/s of one stream through
// the gateway, the same model with a draft model against without one (same threads, same prompt,
// temperature 0), paired: interleaved runs, the side that goes first alternating, medians of the
// paired ratios. Two cases:
//   (a) where it applies: a draft that agrees with its target. Random-weight models never agree,
//       so the pair is derived from the bench model (bench/speculative-model-pair.ts): a target of
//       its first blocks and silent blocks up to BENCH_TARGET_BLOCKS, and a draft of those first
//       blocks alone, which predicts the target's tokens exactly
//   (b) where it does not: llama-2-tiny-random (same vocabulary, random) drafting for the bench
//       model, which it disagrees with: what drafting costs when nothing is accepted
// The acceptance rate comes from the gateway's /metrics (llama-server's speculative counters,
// labelled by model); the draft model's own tokens/s alone is printed as its cost, and a check that
// each drafted text equals the undrafted one (speculative decoding must not change greedy output).
// Needs a llama-server binary: LLAMA_SERVER, else SWITCHYARD_LLAMA_SERVER, else the built one.
// Usage: npm run build && node dist/bench/speculative-decoding.js
//   (BENCH_THREADS, BENCH_TOKENS, BENCH_REPEATS, BENCH_TARGET_BLOCKS, BENCH_DRAFT_MAX)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parsePrometheusText } from '../test/helpers/prometheus-text.js';
import { benchModels, benchModelToml, llamaServerBinary, median, printTable, readStream, startGatewayChild, type Row } from './bench-support.js';
import { modelCost, writeAgreeingPair, type ModelCost } from './speculative-model-pair.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
/** The target's blocks (2 real, the rest silent); the draft has the 2 real ones. */
const TARGET_BLOCKS = Number(process.env.BENCH_TARGET_BLOCKS ?? 24);
const DRAFT_BLOCKS = 2;
/** llama-server's --spec-draft-n-max (tokens drafted per step); absent: its default (3 in this llama.cpp). */
const DRAFT_MAX = process.env.BENCH_DRAFT_MAX;
const PROMPT = 'Once upon a time, in a land far away, there lived';
const CONTEXT = 512;

interface Stream {
  seconds: number;
  generated: number;
  text: string;
}

/** One streamed completion of PROMPT at temperature 0 from `model`, timed from the request to its last frame. */
async function completion(url: string, model: string): Promise<Stream> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: PROMPT, max_tokens: TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!response.ok) throw new Error(`${model} answered ${response.status}: ${await response.text()}`);
  let text = '';
  let generated = 0;
  await readStream(response, (frame) => {
    const choices = frame.choices as Array<{ text?: string }> | undefined;
    text += choices?.[0]?.text ?? '';
    const usage = frame.usage as { completion_tokens: number } | null | undefined;
    if (usage) generated = usage.completion_tokens;
  });
  return { seconds: (performance.now() - started) / 1000, generated, text };
}

/** llama-server's speculative counters for `model`, as the gateway's /metrics shows them. */
async function draftCounters(url: string, model: string): Promise<{ drafted: number; accepted: number }> {
  const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  const value = (name: string) => families.get(name)?.samples.find((sample) => sample.labels.model === model)?.value ?? Number.NaN;
  return { drafted: value('llamacpp:spec_decode_num_draft_tokens_total'), accepted: value('llamacpp:spec_decode_num_accepted_tokens_total') };
}

interface Case {
  what: string;
  plainModel: string;
  draftedModel: string;
  plain: number[];
  drafted: number[];
  ratios: number[];
  generated: number[];
  drafts: number;
  accepted: number;
  sameText: boolean;
}

const newCase = (what: string, plainModel: string, draftedModel: string): Case => ({
  what,
  plainModel,
  draftedModel,
  plain: [],
  drafted: [],
  ratios: [],
  generated: [],
  drafts: 0,
  accepted: 0,
  sameText: true,
});

async function measurePair(url: string, entry: Case, draftedFirst: boolean): Promise<void> {
  const before = await draftCounters(url, entry.draftedModel);
  const run = async (model: string) => completion(url, model);
  let plain: Stream;
  let drafted: Stream;
  if (draftedFirst) {
    drafted = await run(entry.draftedModel);
    plain = await run(entry.plainModel);
  } else {
    plain = await run(entry.plainModel);
    drafted = await run(entry.draftedModel);
  }
  const after = await draftCounters(url, entry.draftedModel);
  entry.drafts += after.drafted - before.drafted;
  entry.accepted += after.accepted - before.accepted;
  entry.plain.push(plain.generated / plain.seconds);
  entry.drafted.push(drafted.generated / drafted.seconds);
  entry.ratios.push(drafted.generated / drafted.seconds / (plain.generated / plain.seconds));
  entry.generated.push(plain.generated, drafted.generated);
  if (plain.text !== drafted.text) entry.sameText = false;
}

function modelToml(name: string, file: string, draft?: string): string {
  const extra = DRAFT_MAX === undefined || draft === undefined ? '' : `extra_args = ["--spec-draft-n-max", "${DRAFT_MAX}"]\n`;
  const extraKeys = `${draft === undefined ? '' : `draft_model = "${draft}"\n`}${extra}`;
  return benchModelToml(file, { backend: 'llama-server', contextLength: CONTEXT, threads: THREADS, parallel: 1, id: name, extraKeys });
}

const describeCost = (label: string, cost: ModelCost) =>
  `${label.padEnd(34)} ${String(cost.blocks).padStart(3)} blocks, ${(cost.parameters / 1e6).toFixed(1).padStart(6)} M parameters (${(cost.parametersPerToken / 1e6).toFixed(1).padStart(6)} M multiplied per token), ${(cost.bytes / 2 ** 20).toFixed(0).padStart(4)} MiB  ${path.basename(cost.file)}`;

async function main(): Promise<void> {
  const binary = llamaServerBinary();
  if (binary === undefined) throw new Error('needs a llama-server binary: LLAMA_SERVER, SWITCHYARD_LLAMA_SERVER, or the one the install step builds');
  process.env.SWITCHYARD_LLAMA_SERVER = binary;
  const benchModel = path.join(benchModels(), 'random-llama-h512-l8.gguf');
  const tinyModel = path.resolve('..', 'shared', 'models', 'llama-2-tiny-random', 'llama-2-tiny-random.gguf');
  const folder = await mkdtemp(path.join(os.tmpdir(), 'switchyard-speculative-'));
  try {
    const pair = await writeAgreeingPair(benchModel, folder, TARGET_BLOCKS, DRAFT_BLOCKS);
    const benchCost = await modelCost(benchModel);
    const tinyCost = await modelCost(tinyModel);
    console.log(
      `threads ${THREADS}, ${TOKENS} tokens per stream, temperature 0, ${REPEATS} paired repeats (medians), draft tokens per step ${DRAFT_MAX ?? "llama-server's default"}, CPU count ${os.cpus().length}`,
    );
    console.log(`llama-server ${binary}`);
    console.log(describeCost('(a) target', pair.target));
    console.log(describeCost('(a) draft (agrees with the target)', pair.draft));
    console.log(describeCost('(b) target (the bench model)', benchCost));
    console.log(describeCost('(b) draft (disagrees)', tinyCost));

    const gateway = await startGatewayChild(
      [
        modelToml('target', pair.target.file),
        modelToml('target-drafted', pair.target.file, pair.draft.file),
        modelToml('draft-alone', pair.draft.file),
        modelToml('bench', benchModel),
        modelToml('bench-drafted-by-tiny', benchModel, tinyModel),
      ].join(''),
    );
    const agrees = newCase('(a) draft agrees: target with draft vs without', 'target', 'target-drafted');
    const disagrees = newCase('(b) draft disagrees: bench model with tiny-random draft vs without', 'bench', 'bench-drafted-by-tiny');
    const draftAlone: number[] = [];
    try {
      // Warm every model once (weights paged in, the prompt cached in each process alike).
      for (const model of ['target', 'target-drafted', 'draft-alone', 'bench', 'bench-drafted-by-tiny']) await completion(gateway.url, model);
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        await measurePair(gateway.url, agrees, repeat % 2 === 1);
        await measurePair(gateway.url, disagrees, repeat % 2 === 1);
        const alone = await completion(gateway.url, 'draft-alone');
        draftAlone.push(alone.generated / alone.seconds);
      }
    } finally {
      await gateway.stop();
    }

    const rows: Row[] = [agrees, disagrees].map((entry) => ({
      what: entry.what,
      gateway: median(entry.drafted),
      baseline: median(entry.plain),
      ratio: median(entry.ratios),
      unit: 'tokens/s',
      better: 'higher',
    }));
    printTable('speculative decoding through the gateway (llama-server engine): with draft_model vs without; ratio = median of paired ratios', rows);
    for (const entry of [agrees, disagrees]) {
      const rate =
        entry.drafts > 0 ? `${((100 * entry.accepted) / entry.drafts).toFixed(1)}% (${entry.accepted} of ${entry.drafts} drafted tokens)` : 'nothing drafted';
      console.log(`${entry.what.slice(0, 3)} acceptance ${rate}; drafted text equals undrafted: ${entry.sameText ? 'yes' : 'NO'}`);
      const paired = entry.drafted.map((value, index) => `${value.toFixed(0)}/${entry.plain[index].toFixed(0)}`).join(' ');
      console.log(`    raw tokens/s with/without ${paired}; tokens generated per run ${[...new Set(entry.generated)].join(', ')}`);
    }
    console.log(
      `(a) the draft alone: ${median(draftAlone).toFixed(0)} tokens/s (${draftAlone.map((value) => value.toFixed(0)).join(' ')}): a token of the draft takes ${(median(agrees.plain) / median(draftAlone)).toFixed(2)} of the target's time`,
    );
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
