// Operations end to end: hot reload (admin endpoint, file watch), lifecycle (lazy, idle unload,
// admin load/unload), readiness, metrics and access logs, on the real engines.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const ADMIN = 'sk-admin-operations';

function config(body: string, extra = ''): string {
  return `
[api]
require_auth = true
api_key = "${ADMIN}"
${extra}

[[api.keys]]
name = "user"
key = "sk-user-operations"

${body}
`;
}

const STORY = (context: number, extra = '') => `
[api.models.story]
path = "${models.stories}"
type = "completion"
context_length = ${context}
threads = 2
${extra}
`;

const EMBED = `
[api.models.embed]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1
`;

async function post(url: string, path: string, key: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('hot reload', () => {
  let gateway: TestGateway;
  let file: string;
  before(async () => {
    gateway = await startTestGateway(config(STORY(256) + EMBED, 'watch_config = false'), { apiKey: ADMIN });
    file = gateway.configFile;
  });
  after(() => gateway.close());

  test('only an admin key may reload', async () => {
    const response = await post(gateway.url, '/v1/admin/reload', 'sk-user-operations');
    assert.equal(response.status, 403);
  });

  test('an invalid file is refused with its precise error; the running config stays', async () => {
    await writeFile(file, config(STORY(256) + EMBED, 'watch_config = false\nmax_requests_per_minut = 5'));
    const response = await post(gateway.url, '/v1/admin/reload', ADMIN);
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { message: string; code: string } };
    assert.equal(body.error.code, 'invalid_config');
    assert.match(body.error.message, /api\.max_requests_per_minut: unknown key "max_requests_per_minut" \(did you mean "max_requests_per_minute"\?\)/);
    assert.deepEqual(
      (await gateway.client.models.list()).data.map((model) => model.id),
      ['story', 'embed'],
    );
  });

  test('a valid file applies only the difference; a changed model takes over while its stream finishes on the old instance', async () => {
    const oldStory = gateway.gateway.registry.find('story')!;
    const oldEmbed = gateway.gateway.registry.find('embed')!;
    // A stream in flight on the old instance of "story".
    const stream = await gateway.client.completions.create({ model: 'story', prompt: 'Once upon a time', max_tokens: 120, temperature: 0.8, stream: true });
    let streamed = '';
    let finish: string | null = null;
    const reading = (async () => {
      for await (const chunk of stream) {
        streamed += chunk.choices[0]?.text ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    })();
    await writeFile(
      file,
      config(STORY(512) + EMBED + `\n[api.models.gguf-embed]\npath = "${models.embedGguf}"\ntype = "embedding"\nthreads = 1\n`, 'watch_config = false'),
    );
    const response = await post(gateway.url, '/v1/admin/reload', ADMIN);
    assert.equal(response.status, 200);
    const summary = (await response.json()) as { added: string[]; removed: string[]; changed: string[]; unchanged: string[] };
    assert.deepEqual(summary.added, ['gguf-embed']);
    assert.deepEqual(summary.changed, ['story']);
    assert.deepEqual(summary.unchanged, ['embed']);
    assert.deepEqual(summary.removed, []);
    await reading;
    assert.equal(finish, 'length', 'the stream on the old instance finished normally');
    assert.ok(streamed.length > 0);
    const newStory = gateway.gateway.registry.find('story')!;
    assert.notEqual(newStory, oldStory);
    assert.equal(newStory.loaded?.info.contextLength, 512);
    assert.equal(gateway.gateway.registry.find('embed'), oldEmbed, 'unchanged models are untouched');
    await waitFor(() => oldStory.status === 'unloaded' && oldStory.loaded === undefined, 10_000, 'the old instance to be unloaded');
    const listed = (await gateway.client.models.list()).data.map((model) => model.id);
    assert.deepEqual(listed, ['story', 'embed', 'gguf-embed']);
  });

  test('a removed model answers 404; new keys apply at once', async () => {
    await writeFile(
      file,
      `[api]\nrequire_auth = true\napi_key = "${ADMIN}"\nwatch_config = false\n\n[[api.keys]]\nname = "late"\nkey = "sk-late-key-0001"\n${STORY(512)}`,
    );
    const response = await post(gateway.url, '/v1/admin/reload', ADMIN);
    assert.equal(response.status, 200);
    const summary = (await response.json()) as { removed: string[] };
    assert.deepEqual(summary.removed.sort(), ['embed', 'gguf-embed']);
    await assert.rejects(gateway.client.embeddings.create({ model: 'embed', input: 'x' }), (error: unknown) => error instanceof OpenAI.NotFoundError);
    const late = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-late-key-0001', maxRetries: 0 });
    assert.deepEqual(
      (await late.models.list()).data.map((model) => model.id),
      ['story'],
    );
    await assert.rejects(
      new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-user-operations', maxRetries: 0 }).models.list(),
      (error: unknown) => error instanceof OpenAI.AuthenticationError,
    );
  });
});

describe('file watch', () => {
  test('saving the config file reloads it', async () => {
    const gateway = await startTestGateway(config(STORY(256)), { apiKey: ADMIN });
    try {
      await writeFile(gateway.configFile, config(STORY(256) + EMBED));
      await waitFor(async () => (await gateway.client.models.list()).data.length === 2, 10_000, 'the watched file to be applied');
      const vectors = await gateway.client.embeddings.create({ model: 'embed', input: 'hello' });
      assert.equal(vectors.data.length, 1);
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      assert.match(metrics, /switchyard_config_reloads_total\{result="succeeded"\} [1-9]/);
    } finally {
      await gateway.close();
    }
  });
});

describe('model lifecycle', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(config(STORY(256, 'load = "lazy"\nidle_unload_after = 1') + EMBED), { apiKey: ADMIN });
  });
  after(() => gateway.close());

  test('a lazy model loads on first use, unloads when idle, and loads again on the next request', async () => {
    const entry = () => gateway.gateway.registry.find('story')!;
    assert.equal(entry().status, 'unloaded');
    const first = await gateway.client.completions.create({ model: 'story', prompt: 'Once', max_tokens: 3 });
    assert.equal(first.choices.length, 1);
    assert.equal(entry().status, 'ready');
    await waitFor(() => entry().status === 'unloaded', 5_000, 'the idle unload');
    const again = await gateway.client.completions.create({ model: 'story', prompt: 'Once', max_tokens: 3 });
    assert.equal(again.choices.length, 1);
  });

  test('admin unload and load', async () => {
    const unload = await post(gateway.url, '/v1/admin/models/embed/unload', ADMIN);
    assert.equal(unload.status, 200);
    assert.equal(((await unload.json()) as { status: string }).status, 'unloaded');
    const load = await post(gateway.url, '/v1/admin/models/embed/load', ADMIN);
    assert.equal(load.status, 200);
    assert.equal(((await load.json()) as { status: string }).status, 'ready');
    assert.equal((await post(gateway.url, '/v1/admin/models/nope/load', ADMIN)).status, 404);
    assert.equal((await post(gateway.url, '/v1/admin/models/embed/unload', 'sk-user-operations')).status, 403);
  });

  test('/ready is 200 with every startup model loaded; /health and /ready give a per-model breakdown', async () => {
    const ready = await fetch(`${gateway.url}/ready`);
    assert.equal(ready.status, 200);
    const body = (await ready.json()) as { status: string; models: Record<string, { status: string }> };
    assert.equal(body.status, 'ready');
    assert.ok(body.models.embed);
  });

  test('/metrics speaks Prometheus text with the gateway metrics', async () => {
    await gateway.client.embeddings.create({ model: 'embed', input: ['a', 'b'] });
    await gateway.client.completions.create({ model: 'story', prompt: 'Once', max_tokens: 3, stream: true }).then(async (stream) => {
      for await (const _chunk of stream) {
        // drain
      }
    });
    const response = await fetch(`${gateway.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    for (const name of [
      'switchyard_requests_total',
      'switchyard_request_duration_seconds_bucket',
      'switchyard_queue_wait_seconds_bucket',
      'switchyard_time_to_first_token_seconds_bucket',
      'switchyard_prompt_tokens_total',
      'switchyard_completion_tokens_total',
      'switchyard_embedding_batch_size_bucket',
      'switchyard_queue_depth',
      'switchyard_active_sequences',
      'switchyard_model_load_seconds',
      'switchyard_process_resident_memory_bytes',
    ]) {
      assert.match(text, new RegExp(`^${name}`, 'm'), name);
    }
    assert.match(text, /switchyard_prompt_tokens_total\{model="embed",key="default"\} \d+/);
    assert.match(text, /switchyard_requests_total\{route="\/v1\/embeddings",model="embed",status="200"\} \d+/);
    assert.doesNotMatch(text, new RegExp(ADMIN));
  });

  test('one access line per request with id, key name, model, status, duration, tokens and queue wait', async () => {
    await gateway.client.completions.create({ model: 'story', prompt: 'Once', max_tokens: 2 });
    const line = gateway.logs.filter((record) => record.msg === 'request' && record.path === '/v1/completions').at(-1)!;
    assert.match(String(line.requestId), /^req_/);
    assert.equal(line.key, 'default');
    assert.equal(line.model, 'story');
    assert.equal(line.status, 200);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.completionTokens, 2);
    assert.equal(typeof line.promptTokens, 'number');
    assert.equal(typeof line.queueWaitMs, 'number');
  });
});

describe('model source', () => {
  test('a missing model file with a source is downloaded at startup, checked, and served', async () => {
    const { createServer } = await import('node:http');
    const { readFile, mkdtemp, stat } = await import('node:fs/promises');
    const { createHash } = await import('node:crypto');
    const os = await import('node:os');
    const pathModule = await import('node:path');
    const bytes = await readFile(models.stories);
    const digest = createHash('sha256').update(bytes).digest('hex');
    let requests = 0;
    const server = createServer((request, response) => {
      requests++;
      response.writeHead(200, { 'content-length': bytes.length });
      response.end(bytes);
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const target = pathModule.join(await mkdtemp(pathModule.join(os.tmpdir(), 'switchyard-source-')), 'stories.gguf');
    const { parseConfig } = await import('../../src/config/load-config.js');
    const { startGateway } = await import('../../src/server/gateway.js');
    const { createSilentLogger } = await import('../../src/logger.js');
    const { ensureModelFile } = await import('../../src/download/ensure-model-file.js');
    const loaded = parseConfig(
      `[api.models.fetched]\npath = "${target}"\ntype = "completion"\nthreads = 1\nsource = "http://127.0.0.1:${port}/stories.gguf"\nsha256 = "${digest}"\n`,
      pathModule.join(os.tmpdir(), 'config.toml'),
    );
    const gateway = await startGateway({
      loaded,
      logger: createSilentLogger(),
      address: '127.0.0.1:0',
      waitForModels: true,
      prepareModel: (entry, logger) => ensureModelFile({ path: entry.resolvedPath, source: entry.config.source!, sha256: entry.config.sha256, logger }),
    });
    try {
      assert.equal(gateway.registry.find('fetched')!.status, 'ready', gateway.registry.find('fetched')!.reason);
      assert.equal((await stat(target)).size, bytes.length);
      assert.equal(requests, 1);
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
      assert.equal((await client.completions.create({ model: 'fetched', prompt: 'Once', max_tokens: 2 })).usage!.completion_tokens, 2);
    } finally {
      await gateway.close();
      server.close();
    }
  });
});
