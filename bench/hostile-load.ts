// Hostile load: each attack of the security review, run against a gateway with the shipped kind of
// models and keys, while /health is probed and a victim (a small chat, or one to another model) is
// timed. Every figure is printed beside the same measurement on the quiet gateway. Each attack is
// bounded in requests and time, and sends to loopback only.
import { readFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import net from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { modelPath } from '../test/helpers/paths.js';
import { percentile, printTable, startGatewayChild, type GatewayChild, type Row } from './bench-support.js';

const ADMIN_KEY = 'sk-bench-admin-0000';
const USER_KEY = 'sk-bench-user-1111';
const ATTACKER_KEY = 'sk-bench-attacker-2222';

const CONFIG = `
[api]
require_auth = true
api_key = "${ADMIN_KEY}"
max_body_bytes = 8388608

[[api.keys]]
name = "user"
key = "${USER_KEY}"

[[api.keys]]
name = "attacker"
key = "${ATTACKER_KEY}"
max_requests_per_minute = 100000

[api.models.chat]
path = "${modelPath('stories260k-chatml/stories260K-chatml.gguf')}"
type = "chat"
backend = "llama"
context_length = 2048
threads = 1
parallel = 4

[api.models.other-chat]
path = "${modelPath('stories260k/stories260K.gguf')}"
type = "completion"
backend = "llama"
context_length = 512
threads = 1

[api.models.embed]
path = "${modelPath('tiny-bert-embed')}"
type = "embedding"
intra_op_threads = 1

[api.models.rerank]
path = "${modelPath('tiny-bert-reranker')}"
type = "rerank"
intra_op_threads = 1
`;

/** The longest any one attack may run; what an unbounded attack would cost shows as this cap. */
const ATTACK_SECONDS = Number(process.env.BENCH_ATTACK_SECONDS ?? 20);
const PROBE_INTERVAL_MS = 25;

interface Attack {
  name: string;
  /** Builds the attack's bodies before anything is timed: the client's own work must not count. */
  prepare?(): void;
  /** The victim's request: to the attacked model, or to another one. */
  victim: 'same-chat' | 'other-model';
  /** The body `prepare` built. */
  body?: string;
  /** Runs the attack until it is done or `signal` fires; returns a summary (statuses, counts). */
  run(url: string, signal: AbortSignal): Promise<string>;
}

/** POSTs `body` (JSON text as it is when a string). */
function post(url: string, path: string, body: unknown, key: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

/** Sends the request, reads its answer, and returns its status (0 when cut off by the signal). */
async function statusOf(request: Promise<Response>): Promise<number> {
  try {
    const response = await request;
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

function countStatuses(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, count]) => `${status === 0 ? 'cut' : status}×${count}`).join(' ');
}

/** `workers` loops issuing `send(i)` until `total` requests are done or the signal fires. */
async function flood(total: number, workers: number, signal: AbortSignal, send: (index: number) => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!signal.aborted && next < total) {
        const index = next++;
        statuses.push(await send(index));
      }
    }),
  );
  return statuses;
}

function randomWord(length: number): string {
  let word = '';
  while (word.length < length) word += Math.random().toString(36).slice(2);
  return word.slice(0, length);
}

function sentence(characters: number): string {
  const words: string[] = [];
  let length = 0;
  while (length < characters) {
    const word = randomWord(3 + Math.floor(Math.random() * 8));
    words.push(word);
    length += word.length + 1;
  }
  return words.join(' ').slice(0, characters);
}

/** JSON text of a schema nested `depth` objects deep, written out (JSON.stringify overflows its stack on it). */
function nestedSchemaJson(depth: number): string {
  return `${'{"type":"object","required":["a"],"properties":{"a":'.repeat(depth)}{"type":"string"}${'}}'.repeat(depth)}`;
}

/** A stream that is never read: the socket is paused, so the gateway's writes pile up on its side. */
function unreadStream(url: string, signal: AbortSignal): Promise<string> {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({
    model: 'chat',
    messages: [{ role: 'user', content: 'Tell me a long story.' }],
    stream: true,
    n: 16,
    logprobs: true,
    top_logprobs: 20,
    max_tokens: 1500,
  });
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${ATTACKER_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      socket.pause();
    });
    const finish = (how: string) => {
      socket.destroy();
      resolve(how);
    };
    socket.once('close', () => finish('closed by the gateway'));
    socket.once('error', () => finish('socket error'));
    signal.addEventListener('abort', () => finish('held open until the attack ended'), { once: true });
  });
}

const ATTACKS: Attack[] = [
  {
    name: '1 random 4,000-character paths, no key',
    victim: 'other-model',
    async run(url, signal) {
      const statuses = await flood(20_000, 16, signal, (index) => statusOf(fetch(`${url}/${randomWord(4_000)}${index}`, { signal })));
      return countStatuses(statuses);
    },
  },
  {
    name: '2a one 1 MB embedding input',
    victim: 'other-model',
    prepare() {
      this.body = JSON.stringify({ model: 'embed', input: sentence(1_000_000) });
    },
    async run(url, signal) {
      return countStatuses([await statusOf(post(url, '/v1/embeddings', this.body, ATTACKER_KEY, signal))]);
    },
  },
  {
    name: '2b 2,048 inputs × 2,000 characters, 2 at once',
    victim: 'other-model',
    prepare() {
      this.body = JSON.stringify({ model: 'embed', input: Array.from({ length: 2_048 }, () => sentence(2_000)) });
    },
    async run(url, signal) {
      return countStatuses(await flood(2, 2, signal, () => statusOf(post(url, '/v1/embeddings', this.body, ATTACKER_KEY, signal))));
    },
  },
  {
    name: '2c rerank of 2,048 documents × 2,000 characters',
    victim: 'other-model',
    prepare() {
      this.body = JSON.stringify({ model: 'rerank', query: 'a query', documents: Array.from({ length: 2_048 }, () => sentence(2_000)) });
    },
    async run(url, signal) {
      return countStatuses([await statusOf(post(url, '/v1/rerank', this.body, ATTACKER_KEY, signal))]);
    },
  },
  {
    name: '3 json_schema enum of 150,000 values',
    victim: 'other-model',
    prepare() {
      const schema = { type: 'object', properties: { pick: { enum: Array.from({ length: 150_000 }, (_, index) => `v${index}`) } }, required: ['pick'] };
      this.body = JSON.stringify({
        model: 'chat',
        messages: [{ role: 'user', content: 'Pick one.' }],
        max_tokens: 4,
        response_format: { type: 'json_schema', json_schema: { name: 'pick', schema } },
      });
    },
    async run(url, signal) {
      return countStatuses([await statusOf(post(url, '/v1/chat/completions', this.body, ATTACKER_KEY, signal))]);
    },
  },
  {
    name: '4 grammar "a"{0,1999} × 400, client gone after 1 s',
    victim: 'same-chat',
    async run(url, signal) {
      const grammar = `root ::= ${Array.from({ length: 400 }, () => '"a"{0,1999}').join(' ')}`;
      const leave = AbortSignal.any([signal, AbortSignal.timeout(1_000)]);
      const body = { model: 'chat', messages: [{ role: 'user', content: 'a' }], max_tokens: 1, grammar };
      return countStatuses([await statusOf(post(url, '/v1/chat/completions', body, ATTACKER_KEY, leave))]);
    },
  },
  {
    name: '7 wrong-key guessing, 8 at once',
    victim: 'other-model',
    async run(url, signal) {
      return countStatuses(await flood(5_000, 8, signal, (index) => statusOf(post(url, '/v1/models', {}, `sk-guess-${index}`, signal))));
    },
  },
  {
    name: '8 n=16 top_logprobs=20 stream, never read',
    victim: 'same-chat',
    run: (url, signal) => unreadStream(url, signal),
  },
  {
    name: '10 json_schema nested 3,000 levels',
    victim: 'other-model',
    prepare() {
      this.body = `{"model":"chat","messages":[{"role":"user","content":"x"}],"max_tokens":4,"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":${nestedSchemaJson(3_000)}}}}`;
    },
    async run(url, signal) {
      return countStatuses([await statusOf(post(url, '/v1/chat/completions', this.body, ATTACKER_KEY, signal))]);
    },
  },
  {
    name: '11 one request with n=16',
    victim: 'same-chat',
    async run(url, signal) {
      const body = { model: 'chat', messages: [{ role: 'user', content: 'Tell me a story.' }], n: 16, max_tokens: 400 };
      return countStatuses([await statusOf(post(url, '/v1/chat/completions', body, ATTACKER_KEY, signal))]);
    },
  },
];

interface Window {
  healthMs: number[];
  victimMs: number[];
}

/**
 * Sends `send` back to back, `pauseMs` apart, until `stop` fires, recording each answer's latency. A
 * request still unanswered when `stop` fires counts with the time it has waited so far (a lower
 * bound), so a victim stuck behind an attack is not left out of the figures.
 */
async function timedLoop(
  stop: AbortSignal,
  pauseMs: number,
  send: (signal: AbortSignal) => Promise<number>,
  expected: (status: number) => boolean,
): Promise<number[]> {
  const latencies: number[] = [];
  while (!stop.aborted) {
    const started = performance.now();
    const inFlight = new AbortController();
    const cutOff = () => {
      latencies.push(performance.now() - started);
      inFlight.abort();
    };
    stop.addEventListener('abort', cutOff, { once: true });
    const status = await send(inFlight.signal);
    stop.removeEventListener('abort', cutOff);
    if (!inFlight.signal.aborted && expected(status)) latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return latencies;
}

/**
 * Probes /health and runs victims from a worker thread, whose event loop the attacks' own client
 * work (floods of requests, megabyte bodies) cannot hold up: only the gateway's delays are timed.
 */
function observe(url: string, victim: Attack['victim'], stop: AbortSignal): Promise<Window> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { url, victim } });
  stop.addEventListener('abort', () => worker.postMessage('stop'), { once: true });
  if (stop.aborted) worker.postMessage('stop');
  return new Promise((resolve, reject) => {
    worker.once('message', (window: Window) => {
      resolve(window);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** Probes /health every PROBE_INTERVAL_MS and runs victim requests back to back until `stop` fires. */
async function observeHere(url: string, victim: Attack['victim'], stop: AbortSignal): Promise<Window> {
  const request =
    victim === 'same-chat'
      ? { path: '/v1/chat/completions', json: { model: 'chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0 } }
      : { path: '/v1/completions', json: { model: 'other-chat', prompt: 'Once upon a time', max_tokens: 4, temperature: 0 } };
  const [healthMs, victimMs] = await Promise.all([
    timedLoop(
      stop,
      PROBE_INTERVAL_MS,
      (signal) => statusOf(fetch(`${url}/health`, { signal })),
      (status) => status !== 0,
    ),
    timedLoop(
      stop,
      50,
      (signal) => statusOf(post(url, request.path, request.json, USER_KEY, signal)),
      (status) => status === 200,
    ),
  ]);
  return { healthMs, victimMs };
}

function residentMegabytes(child: GatewayChild): number {
  const status = readFileSync(`/proc/${child.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function metricsSeries(url: string): Promise<{ series: number; scrapeMs: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  const text = await response.text();
  return { series: text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length, scrapeMs: performance.now() - started };
}

/** Waits until the gateway is quiet again (an attack's work may outlive its client), at most two minutes. */
async function settle(url: string): Promise<void> {
  const deadline = performance.now() + 120_000;
  let quick = 0;
  while (quick < 3 && performance.now() < deadline) {
    const started = performance.now();
    await statusOf(fetch(`${url}/health`));
    quick = performance.now() - started < 50 ? quick + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await statusOf(post(url, '/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 1 }, USER_KEY));
}

async function main(): Promise<void> {
  for (const attack of ATTACKS) attack.prepare?.();
  const gateway = await startGatewayChild(CONFIG);
  try {
    // Quiet baselines, one per victim kind.
    const quiet: Record<Attack['victim'], Window> = {
      'same-chat': await observe(gateway.url, 'same-chat', AbortSignal.timeout(3_000)),
      'other-model': await observe(gateway.url, 'other-model', AbortSignal.timeout(3_000)),
    };
    const rows: Row[] = [];
    const notes: string[] = [];
    for (const attack of ATTACKS) {
      const before = { rss: residentMegabytes(gateway), ...(await metricsSeries(gateway.url)) };
      const cap = AbortSignal.timeout(ATTACK_SECONDS * 1_000);
      // Every request of a flood listens on the one cap.
      setMaxListeners(0, cap);
      const stopObserving = new AbortController();
      const watching = observe(gateway.url, attack.victim, stopObserving.signal);
      const started = performance.now();
      let peakRss = before.rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, residentMegabytes(gateway))), 100);
      const summary = await attack.run(gateway.url, cap);
      const attackSeconds = (performance.now() - started) / 1000;
      // A moment after the attack, so a victim queued behind it is counted.
      await new Promise((resolve) => setTimeout(resolve, 300));
      stopObserving.abort();
      const window = await watching;
      clearInterval(sampler);
      const after = await metricsSeries(gateway.url);
      const baseline = quiet[attack.victim];
      rows.push(
        {
          what: `${attack.name}: /health p99`,
          gateway: percentile(window.healthMs, 99),
          baseline: percentile(baseline.healthMs, 99),
          unit: 'ms',
          better: 'lower',
          target: '< 100 ms',
        },
        {
          what: `${attack.name}: victim p50 (${attack.victim})`,
          gateway: percentile(window.victimMs, 50),
          baseline: percentile(baseline.victimMs, 50),
          unit: 'ms',
          better: 'lower',
        },
      );
      notes.push(
        `${attack.name}: ${summary}; ran ${attackSeconds.toFixed(1)} s; /health max ${Math.max(...window.healthMs).toFixed(0)} ms over ${window.healthMs.length} probes; ` +
          `${window.victimMs.length} victims; RSS ${before.rss.toFixed(0)} → peak ${peakRss.toFixed(0)} MB; metrics series ${before.series} → ${after.series} (scrape ${after.scrapeMs.toFixed(0)} ms)`,
      );
      await settle(gateway.url);
    }
    printTable('Hostile load: /health and a victim request under each attack, beside the quiet gateway', rows);
    console.log('');
    for (const note of notes) console.log(note);
  } finally {
    await gateway.stop();
  }
}

if (isMainThread) {
  await main();
} else {
  const { url, victim } = workerData as { url: string; victim: Attack['victim'] };
  const stop = new AbortController();
  parentPort!.once('message', () => stop.abort());
  parentPort!.postMessage(await observeHere(url, victim, stop.signal));
}
