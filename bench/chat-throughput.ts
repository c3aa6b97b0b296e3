// Chat/completion throughput through the gateway beside node-llama-cpp called directly in-process,
// on the same benchmark-size model with the same threads:
//   (a) one stream, tokens/s            target ratio >= 0.95
//   (b) four concurrent streams, tokens/s target ratio >= 0.90
//   (c) time to first token added by the gateway, p50, target < 5 ms
// With LLAMA_SERVER naming a llama.cpp llama-server binary, it runs on the same model and threads too.
// Usage: npm run build && node dist/bench/chat-throughput.js   (BENCH_THREADS, BENCH_TOKENS, BENCH_REPEATS)
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { getLlama, type LlamaContext, type LlamaModel } from 'node-llama-cpp';
import { benchModels, median, printTable, readStream, startGatewayChild, type Row } from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const TTFT_REPEATS = Number(process.env.BENCH_TTFT_REPEATS ?? 30);
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

async function llamaServerFigures(modelPath: string): Promise<{ one: number; four: number } | undefined> {
  const binary = process.env.LLAMA_SERVER;
  if (!binary) return undefined;
  const port = 18000 + Math.floor(Math.random() * 1000);
  const server = spawn(binary, ['-m', modelPath, '-t', String(THREADS), '-c', String(CONTEXT * 4), '-np', '4', '--port', String(port), '--host', '127.0.0.1'], {
    stdio: 'ignore',
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    for (let attempt = 0; attempt < 300; attempt++) {
      if (
        (await fetch(`${url}/health`)
          .then((response) => response.status)
          .catch(() => 0)) === 200
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const run = async (streams: number) => {
      const started = performance.now();
      let generated = 0;
      await Promise.all(
        Array.from({ length: streams }, async (_, index) => {
          const response = await fetch(`${url}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              prompt: nextPrompt(),
              max_tokens: TOKENS,
              temperature: 0.8,
              seed: index + 1,
              stream: true,
              stream_options: { include_usage: true },
              ignore_eos: true,
            }),
          });
          await readStream(response, (frame) => {
            const usage = frame.usage as { completion_tokens: number } | null | undefined;
            if (usage) generated += usage.completion_tokens;
          });
        }),
      );
      return generated / ((performance.now() - started) / 1000);
    };
    const one: number[] = [];
    const four: number[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      one.push(await run(1));
      four.push(await run(4));
    }
    return { one: median(one), four: median(four) };
  } finally {
    server.kill('SIGTERM');
  }
}

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
  const gateway = await startGatewayChild(`
[api.models.bench]
path = "${modelPath}"
type = "completion"
context_length = ${CONTEXT}
threads = ${THREADS}
parallel = 4
`);
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
  const server = await llamaServerFigures(modelPath);
  if (server) {
    printTable('llama-server on the same model and threads (HTTP included)', [
      { what: 'one stream: gateway vs llama-server', gateway: median(figures.gatewayOne), baseline: server.one, unit: 'tokens/s', better: 'higher' },
      { what: 'four streams: gateway vs llama-server', gateway: median(figures.gatewayFour), baseline: server.four, unit: 'tokens/s', better: 'higher' },
    ]);
  } else {
    console.log('(set LLAMA_SERVER to a llama-server binary to compare with it)');
  }
}

await main();
