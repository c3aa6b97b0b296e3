// What the agent APIs cost beside chat completions: the Responses API (stored and not) and the
// Anthropic Messages API are translation layers over the chat pipeline, so their baseline is a chat
// completion on the same gateway, model, threads and run. One gateway process (backend =
// "llama-server", one slot), one streamed request at a time with the same prompt and sampling on
// each route, paired rounds in rotating order:
//   the gateway process's CPU per generated token (all its threads, /proc/<pid>/task/*/schedstat),
//   and each request's wall time per generated token (what a client sees), as ratios to chat.
// Usage: npm run build && node dist/bench/agent-apis.js   (BENCH_THREADS, BENCH_TOKENS, BENCH_REPEATS;
//   BENCH_RESPONSE_STORE: the [api.responses] store, default the gateway's own, sqlite in a temporary folder)
import path from 'node:path';
import {
  benchModels,
  benchModelToml,
  cpuNanoseconds,
  llamaServerBinary,
  median,
  printTable,
  readStream,
  startGatewayChild,
  type Row,
} from './bench-support.js';

const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 128);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 7);
const RESPONSE_STORE = process.env.BENCH_RESPONSE_STORE;
/** Requests per measurement of one route. */
const REQUESTS = 4;
const PROMPT = 'Once upon a time, in a land far away, there lived';

interface Route {
  name: string;
  path: string;
  body(seed: number): unknown;
  /** The completion tokens a stream frame reports, if it is the one that does. */
  tokensOf(frame: Record<string, unknown>): number | undefined;
}

const sampling = { temperature: 0.8, top_p: 0.95 };

const ROUTES: Route[] = [
  {
    name: 'chat completions',
    path: '/v1/chat/completions',
    body: (seed) => ({
      model: 'bench',
      messages: [{ role: 'user', content: PROMPT }],
      max_tokens: TOKENS,
      seed,
      stream: true,
      stream_options: { include_usage: true },
      ...sampling,
    }),
    tokensOf: (frame) => (frame.usage as { completion_tokens: number } | null | undefined)?.completion_tokens,
  },
  ...[true, false].map((store): Route => ({
    name: `responses (store ${store})`,
    path: '/v1/responses',
    // The Responses API has no seed: the engine's own sampling decides, as it does on the other routes' seeds.
    body: () => ({ model: 'bench', input: PROMPT, max_output_tokens: TOKENS, store, stream: true, ...sampling }),
    tokensOf: (frame) =>
      frame.type === 'response.completed' || frame.type === 'response.incomplete'
        ? (frame.response as { usage: { output_tokens: number } }).usage.output_tokens
        : undefined,
  })),
  {
    name: 'anthropic messages',
    path: '/v1/messages',
    body: () => ({ model: 'bench', messages: [{ role: 'user', content: PROMPT }], max_tokens: TOKENS, stream: true, temperature: 0.8, top_p: 0.95 }),
    tokensOf: (frame) => (frame.type === 'message_delta' ? (frame.usage as { output_tokens: number }).output_tokens : undefined),
  },
];

async function streamOnce(url: string, route: Route, seed: number): Promise<number> {
  const response = await fetch(`${url}${route.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(route.body(seed)),
  });
  if (!response.ok) throw new Error(`${route.path} answered ${response.status}: ${await response.text()}`);
  let generated = 0;
  await readStream(response, (frame) => {
    generated = route.tokensOf(frame) ?? generated;
  });
  return generated;
}

interface Series {
  cpuUsPerToken: number[];
  wallMsPerToken: number[];
}

async function main(): Promise<void> {
  const binary = llamaServerBinary();
  if (!binary) throw new Error('set LLAMA_SERVER (or SWITCHYARD_LLAMA_SERVER) to a llama-server binary');
  process.env.SWITCHYARD_LLAMA_SERVER = binary;
  const modelPath = path.join(benchModels(), 'random-llama-h512-l8.gguf');
  const gateway = await startGatewayChild(
    (RESPONSE_STORE ? `[api.responses]\nstore = "${RESPONSE_STORE}"\n` : '') +
      benchModelToml(modelPath, { backend: 'llama-server', type: 'chat', contextLength: 1024, threads: THREADS, parallel: 1 }),
  );
  const series = new Map<string, Series>(ROUTES.map((route) => [route.name, { cpuUsPerToken: [], wallMsPerToken: [] }]));
  try {
    const pid = gateway.child.pid!;
    // Warm: every route's path is compiled before it is measured.
    for (const route of ROUTES) for (let seed = 1; seed <= 2; seed++) await streamOnce(gateway.url, route, seed);
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      // Which route goes first rotates, so that a drift within a round favours none.
      const order = ROUTES.map((_, index) => ROUTES[(index + repeat) % ROUTES.length]);
      for (const route of order) {
        const cpuBefore = cpuNanoseconds(pid);
        const started = performance.now();
        let generated = 0;
        for (let request = 0; request < REQUESTS; request++) generated += await streamOnce(gateway.url, route, repeat * REQUESTS + request + 1);
        const entry = series.get(route.name)!;
        entry.wallMsPerToken.push((performance.now() - started) / generated);
        entry.cpuUsPerToken.push((cpuNanoseconds(pid) - cpuBefore) / 1000 / generated);
      }
    }
  } finally {
    await gateway.stop();
  }
  const chat = series.get(ROUTES[0].name)!;
  const pairedRatio = (values: number[], baseline: number[]) => median(values.map((value, index) => value / baseline[index]));
  const rows: Row[] = ROUTES.slice(1).flatMap((route) => {
    const entry = series.get(route.name)!;
    return [
      {
        what: `${route.name}: gateway CPU per token`,
        gateway: median(entry.cpuUsPerToken),
        baseline: median(chat.cpuUsPerToken),
        unit: 'µs',
        better: 'lower' as const,
        ratio: pairedRatio(entry.cpuUsPerToken, chat.cpuUsPerToken),
      },
      {
        what: `${route.name}: wall time per token`,
        gateway: median(entry.wallMsPerToken),
        baseline: median(chat.wallMsPerToken),
        unit: 'ms',
        better: 'lower' as const,
        ratio: pairedRatio(entry.wallMsPerToken, chat.wallMsPerToken),
      },
    ];
  });
  printTable(
    `agent APIs against chat completions (baseline), llama-server, threads ${THREADS}, response store ${RESPONSE_STORE ?? 'sqlite'}, ${TOKENS} tokens, ${REQUESTS} requests per measurement, medians of ${REPEATS} paired rounds`,
    rows,
  );
}

await main();
