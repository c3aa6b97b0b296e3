// Hostile input end to end: requests whose cost grows with their size (huge embedding inputs,
// thousands of rerank documents, a megabyte chat message, huge or deeply nested JSON schemas)
// against a gateway in its own process, on the real engines and shared models, while /health is
// probed. Each attack must be refused with a 400 or served, and never freeze the event loop.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { OnnxReference } from '../helpers/onnx-reference.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { models } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait-for.js';
import { CHARACTERS_PER_TOKEN } from '../../src/backends/character-bound.js';
import { JSON_SCHEMA_LIMITS } from '../../src/openai/request-limits.js';

const CONFIG = `
[api.models.onnx-embed]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1

[api.models.onnx-embed-strict]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1
truncate = false

[api.models.gguf-embed]
path = "${models.embedGguf}"
type = "embedding"
threads = 1

[api.models.onnx-rerank]
path = "${models.rerankOnnx}"
type = "rerank"
intra_op_threads = 1

[api.models.chat]
path = "${models.storiesChatml}"
type = "chat"
context_length = 2048
threads = 1
`;

/**
 * The unfixed gateway blocked /health for seconds under each of these attacks; 100 ms p99 is the
 * target, asserted with room for a loaded 2-core machine that runs other tests beside this one.
 */
const HEALTH_P99_LIMIT_MS = 250;
/**
 * Probes land between blocks, so one long block barely moves the p99: the slowest probe is checked
 * too. Unfixed, 1,024 inputs of 2,000 characters blocked /health about 3 s in one piece; fixed, the
 * slowest probe stayed under 250 ms except when the machine starved this test process itself (its
 * own event loop stalled up to 360 ms on a 2-core machine running four test suites).
 */
const HEALTH_MAX_LIMIT_MS = 1_500;
/** RSS the gateway may gain over all the attacks together (the unfixed one gained 1.5 GB on one 1 MB input). */
const RSS_GROWTH_LIMIT_MB = 300;

interface Probed<T> {
  result: T;
  latencies: number[];
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

describe('hostile input', () => {
  let gateway: GatewayProcess;
  let url: string;
  const measured: string[] = [];

  before(async () => {
    gateway = await startGatewayProcess(CONFIG);
    url = gateway.url;
    await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 60_000, 'the models to load');
    // One small request per model first, so that no probe below measures a cold start.
    for (const model of ['onnx-embed', 'onnx-embed-strict', 'gguf-embed'])
      assert.equal((await post('/v1/embeddings', { model, input: 'warm up' })).status, 200);
    assert.equal((await post('/v1/rerank', { model: 'onnx-rerank', query: 'warm', documents: ['up'] })).status, 200);
    assert.equal((await post('/v1/chat/completions', { model: 'chat', max_tokens: 1, messages: [{ role: 'user', content: 'warm up' }] })).status, 200);
  });
  after(async () => {
    await gateway?.stop();
    if (measured.length > 0) console.log(measured.join('\n'));
  });

  /** Probes GET /health one after another (every 10 ms) for as long as `attack` runs. */
  async function whileProbing<T>(attack: () => Promise<T>): Promise<Probed<T>> {
    const latencies: number[] = [];
    let running = true;
    const probing = (async () => {
      while (running) {
        const started = performance.now();
        const response = await fetch(`${url}/health`);
        await response.arrayBuffer();
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      return { result: await attack(), latencies };
    } finally {
      running = false;
      await probing;
    }
  }

  async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  }

  function assertResponsive(name: string, latencies: number[]): void {
    const p99 = percentile(latencies, 0.99);
    measured.push(`${name}: /health p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms over ${latencies.length} probes`);
    assert.ok(p99 < HEALTH_P99_LIMIT_MS, `${name}: /health p99 was ${p99.toFixed(0)} ms (limit ${HEALTH_P99_LIMIT_MS} ms)`);
    const slowest = Math.max(...latencies);
    assert.ok(slowest < HEALTH_MAX_LIMIT_MS, `${name}: the slowest /health took ${slowest.toFixed(0)} ms (limit ${HEALTH_MAX_LIMIT_MS} ms)`);
  }

  async function rssMegabytes(): Promise<number> {
    const status = await readFile(`/proc/${gateway.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  }

  const words = (count: number) => Array.from({ length: count }, (_, index) => `word${index % 97} tokens`).join(' ');

  test('a 256 KB embedding input is cut before it is tokenized: served, /health stays responsive', async () => {
    const before = await rssMegabytes();
    for (const model of ['onnx-embed', 'gguf-embed']) {
      const { result, latencies } = await whileProbing(() => post('/v1/embeddings', { model, input: 'lorem ipsum dolor sit amet '.repeat(10_000) }));
      assert.equal(result.status, 200, JSON.stringify(result.json).slice(0, 300));
      // Cut to the model's limit: 512 tokens for ONNX BERT, 511 for llama.cpp (its context less one).
      assert.equal(result.json.usage.prompt_tokens, model === 'gguf-embed' ? 511 : 512);
      assertResponsive(`${model}: one 270 KB input`, latencies);
    }
    const grown = (await rssMegabytes()) - before;
    measured.push(`RSS growth over the long single inputs: ${grown.toFixed(0)} MB`);
    assert.ok(grown < RSS_GROWTH_LIMIT_MB, `RSS grew ${grown.toFixed(0)} MB`);
  });

  test('an input over the character bound with truncate = false is a 400 naming both limits', async () => {
    const { result, latencies } = await whileProbing(() => post('/v1/embeddings', { model: 'onnx-embed-strict', input: ['short', 'x '.repeat(200_000)] }));
    assert.equal(result.status, 400);
    assert.equal(result.json.error.code, 'context_length_exceeded');
    assert.equal(result.json.error.param, 'input[1]');
    assert.match(result.json.error.message, new RegExp(`${512 * CHARACTERS_PER_TOKEN} characters`));
    assert.match(result.json.error.message, /512 tokens/);
    assertResponsive('truncate = false, one 400 KB input', latencies);
  });

  test('1,024 inputs of 2,000 characters are served while /health stays responsive', async () => {
    const input = Array.from({ length: 1024 }, (_, index) => `${index} ${words(200)}`.slice(0, 2000));
    const { result, latencies } = await whileProbing(() => post('/v1/embeddings', { model: 'onnx-embed', input }));
    assert.equal(result.status, 200);
    assert.equal(result.json.data.length, 1024);
    assertResponsive('onnx-embed: 1,024 inputs x 2,000 characters', latencies);
  });

  test('a rerank of 1,024 documents of 2,000 characters is served while /health stays responsive', async () => {
    const documents = Array.from({ length: 1024 }, (_, index) => `${index} ${words(200)}`.slice(0, 2000));
    const { result, latencies } = await whileProbing(() => post('/v1/rerank', { model: 'onnx-rerank', query: 'which word', documents, top_n: 3 }));
    assert.equal(result.status, 200);
    assert.equal(result.json.results.length, 3);
    assertResponsive('onnx-rerank: 1,024 documents x 2,000 characters', latencies);
  });

  test('a 1 MB chat message is a 400 before it is rendered and tokenized', async () => {
    const { result, latencies } = await whileProbing(() =>
      post('/v1/chat/completions', { model: 'chat', max_tokens: 1, messages: [{ role: 'user', content: 'once upon a time '.repeat(60_000) }] }),
    );
    assert.equal(result.status, 400);
    assert.equal(result.json.error.code, 'context_length_exceeded');
    assertResponsive('chat: one 1 MB message', latencies);
  });

  test('a json_schema enum over the limit is a 400 naming the limit and its path, /health stays responsive', async () => {
    const values = Array.from({ length: 30_000 }, (_, index) => `value-${index}`);
    const schema = { type: 'object', properties: { pick: { enum: values } }, required: ['pick'] };
    const { result, latencies } = await whileProbing(() =>
      post('/v1/chat/completions', {
        model: 'chat',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'hi' }],
        response_format: { type: 'json_schema', json_schema: { name: 'pick', schema } },
      }),
    );
    assert.equal(result.status, 400, JSON.stringify(result.json).slice(0, 300));
    assert.equal(result.json.error.param, 'response_format.json_schema.schema');
    assert.match(result.json.error.message, new RegExp(`${JSON_SCHEMA_LIMITS.maxEnumValues}`));
    assert.match(result.json.error.message, /\$\.properties\.pick\.enum/);
    assertResponsive('json_schema with a 30,000-value enum', latencies);
  });

  test('a json_schema with a huge repetition bound is a 400 naming it', async () => {
    const schema = { type: 'object', properties: { text: { type: 'string', maxLength: 100_000 } } };
    const result = await post('/v1/chat/completions', { model: 'chat', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], json_schema: schema });
    assert.equal(result.status, 400);
    assert.equal(result.json.error.param, 'json_schema');
    assert.match(result.json.error.message, /\$\.properties\.text\.maxLength/);
    assert.match(result.json.error.message, new RegExp(`${JSON_SCHEMA_LIMITS.maxRepetition}`));
  });

  test('a json_schema nested 3,000 levels deep is a 400, not a 500', async () => {
    // Written as text: JSON.stringify itself overflows the stack on it.
    const schema = `${'{"type":"object","properties":{"next":'.repeat(3_000)}{"type":"string"}${'}}'.repeat(3_000)}`;
    for (const field of [`"json_schema":${schema}`, `"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":${schema}}}`]) {
      const result = await post('/v1/chat/completions', `{"model":"chat","max_tokens":1,"messages":[{"role":"user","content":"hi"}],${field}}`);
      assert.equal(result.status, 400, JSON.stringify(result.json).slice(0, 300));
      assert.match(result.json.error.message, new RegExp(`nested deeper than the limit of ${JSON_SCHEMA_LIMITS.maxDepth} levels`));
    }
  });

  test('deeply nested JSON anywhere in a body is a 4xx, never a 500', async () => {
    const deep = (depth: number, open: string, close: string, leaf = '1') => `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;
    const depth = 100_000;
    const bodies: Array<[string, string]> = [
      ['/v1/chat/completions', `{"model":"chat","max_tokens":1,"messages":[{"role":"user","content":${deep(depth, '[', ']')}}]}`],
      ['/v1/chat/completions', `{"model":"chat","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"tools_like":${deep(depth, '{"a":', '}')}}`],
      ['/v1/chat/completions', `{"model":"chat","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"tool_choice":${deep(depth, '[', ']')}}`],
      ['/v1/embeddings', `{"model":"onnx-embed","input":${deep(depth, '[', ']')}}`],
      ['/v1/rerank', `{"model":"onnx-rerank","query":"q","documents":${deep(depth, '[', ']')}}`],
      ['/v1/completions', `{"model":"chat","max_tokens":1,"prompt":${deep(depth, '[', ']')}}`],
    ];
    for (const [path, body] of bodies) {
      const result = await post(path, body);
      assert.ok(result.status >= 200 && result.status < 500, `${path}: ${result.status} ${JSON.stringify(result.json).slice(0, 200)}`);
    }
  });

  test('vectors are unchanged by the cut: a normal input, and a long input truncated to 512 tokens', async () => {
    const reference = await OnnxReference.create();
    try {
      const short = 'The quick brown fox jumps over the lazy dog.';
      const long = words(3_000);
      const result = await post('/v1/embeddings', { model: 'onnx-embed', input: [short, long] });
      assert.equal(result.status, 200);
      const fullIds = reference.ids(long);
      // What the gateway always ran: [CLS], the first 510 content tokens of the whole text, [SEP].
      const truncatedIds = [...fullIds.slice(0, 511), fullIds.at(-1)!];
      const expected = await reference.embed([reference.ids(short), truncatedIds], 'mean', true);
      assert.equal(result.json.usage.prompt_tokens, reference.ids(short).length + 512);
      for (const [index, vector] of expected.entries()) {
        const served = result.json.data[index].embedding as number[];
        const largest = Math.max(...vector.map((value, at) => Math.abs(value - served[at])));
        assert.ok(largest < 1e-4, `input ${index}: differs from the reference by ${largest}`);
      }
    } finally {
      await reference.dispose();
    }
  });
});
