// The HTTP surface of the foundation: model listing through the official SDK, health, and every
// error envelope. Engines are stand-ins here (this file tests the HTTP layer only); the engine
// end-to-end tests live beside it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { standInFactory } from '../helpers/stand-in-backend.js';
import { models } from '../helpers/paths.js';

const CONFIG = `
[api]
max_body_bytes = 2048

[api.models.chat-a]
path = "${models.stories}"
type = "chat"
context_length = 512
aliases = ["gpt-4o-mini"]

[api.models.embed-a]
path = "${models.embedOnnx}"
type = "embedding"
dimensions = 32

[api.models.missing]
path = "/nonexistent/model.gguf"
type = "completion"
`;

const factories = { llama: standInFactory(), 'llama-server': standInFactory(), onnx: standInFactory() };

describe('foundation over HTTP', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(CONFIG, { factories });
  });
  after(() => gateway.close());

  test('models.list() returns every configured model with metadata', async () => {
    const page = await gateway.client.models.list();
    const ids = page.data.map((model) => model.id);
    assert.deepEqual(ids, ['chat-a', 'embed-a', 'missing']);
    const chat = page.data[0] as OpenAI.Models.Model & { metadata: Record<string, unknown> };
    assert.equal(chat.object, 'model');
    assert.equal(chat.owned_by, 'switchyard');
    assert.equal(typeof chat.created, 'number');
    assert.equal(chat.metadata.type, 'chat');
    assert.equal(chat.metadata.status, 'ready');
    assert.equal(chat.metadata.context_length, 512);
    const embed = page.data[1] as unknown as { metadata: Record<string, unknown> };
    assert.equal(embed.metadata.dimensions, 32);
    assert.equal(embed.metadata.backend, 'onnx');
    const missing = page.data[2] as unknown as { metadata: Record<string, unknown> };
    assert.equal(missing.metadata.status, 'unavailable');
    // Without an admin key, the kind of failure only: the full reason names paths.
    assert.equal(missing.metadata.reason, 'model files missing or not recognised');
    assert.match(gateway.gateway.registry.find('missing')?.reason ?? '', /model file not found: \/nonexistent\/model\.gguf/);
  });

  test('models.retrieve() resolves ids and aliases', async () => {
    assert.equal((await gateway.client.models.retrieve('chat-a')).id, 'chat-a');
    assert.equal((await gateway.client.models.retrieve('gpt-4o-mini')).id, 'chat-a');
  });

  test('an unknown model is the SDK NotFoundError with code model_not_found', async () => {
    await assert.rejects(gateway.client.models.retrieve('no-such-model'), (error: unknown) => {
      assert.ok(error instanceof OpenAI.NotFoundError);
      assert.equal(error.status, 404);
      assert.equal(error.code, 'model_not_found');
      assert.equal(error.type, 'not_found_error');
      return true;
    });
  });

  test('/health reports the per-model breakdown, degraded when a model is unavailable', async () => {
    for (const route of ['/health', '/v1/health']) {
      const response = await fetch(gateway.url + route);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; models: Record<string, { status: string; reason?: string }> };
      assert.equal(body.status, 'degraded');
      assert.equal(body.models['chat-a'].status, 'ready');
      assert.equal(body.models.missing.status, 'unavailable');
    }
  });

  test('x-request-id is generated, and an incoming one is honoured', async () => {
    const generated = await fetch(`${gateway.url}/v1/models`);
    assert.match(generated.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    const honoured = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-request-id': 'trace-123' } });
    assert.equal(honoured.headers.get('x-request-id'), 'trace-123');
    const refused = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(refused.headers.get('x-request-id') ?? '', /^req_/);
  });

  const envelopeCases: Array<{ name: string; request: () => Promise<Response>; status: number; type: string; code?: string; message?: RegExp }> = [
    { name: 'unknown route', request: () => fetch(`${gateway.url}/v1/nothing`), status: 404, type: 'not_found_error', code: 'unknown_url' },
    {
      name: 'wrong method',
      request: () => fetch(`${gateway.url}/v1/models`, { method: 'DELETE' }),
      status: 405,
      type: 'invalid_request_error',
      code: 'method_not_allowed',
    },
    {
      name: 'malformed JSON',
      request: () => fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' }),
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_json',
      message: /could not parse the JSON body/,
    },
    {
      name: 'a JSON body that is not an object',
      request: () => fetch(`${gateway.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2]' }),
      status: 400,
      type: 'invalid_request_error',
      code: 'invalid_json',
    },
    {
      name: 'body too large',
      request: () =>
        fetch(`${gateway.url}/v1/embeddings`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: 'x'.repeat(4096) }),
        }),
      status: 413,
      type: 'invalid_request_error',
      code: 'request_too_large',
    },
    {
      name: 'unsupported content type',
      request: () => fetch(`${gateway.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      status: 415,
      type: 'invalid_request_error',
      code: 'unsupported_media_type',
    },
    {
      name: 'a field of the wrong type',
      request: () =>
        fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'chat-a', messages: 'hi' }),
        }),
      status: 400,
      type: 'invalid_request_error',
      message: /Invalid type for 'messages': expected a array/,
    },
    {
      name: 'an unavailable model is a 503 with Retry-After',
      request: () =>
        fetch(`${gateway.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'missing', prompt: 'x' }),
        }),
      status: 503,
      type: 'service_unavailable_error',
      code: 'model_unavailable',
    },
    {
      name: 'a model of the wrong type names its type',
      request: () =>
        fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'embed-a', messages: [{ role: 'user', content: 'hi' }] }),
        }),
      status: 400,
      type: 'invalid_request_error',
      code: 'model_type_mismatch',
      message: /is an embedding model/,
    },
  ];
  for (const testCase of envelopeCases) {
    test(`error envelope: ${testCase.name}`, async () => {
      const response = await testCase.request();
      assert.equal(response.status, testCase.status);
      assert.match(response.headers.get('content-type') ?? '', /application\/json/);
      const body = (await response.json()) as { error: { message: string; type: string; param: unknown; code: unknown } };
      assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
      assert.equal(body.error.type, testCase.type);
      if (testCase.code) assert.equal(body.error.code, testCase.code);
      if (testCase.message) assert.match(body.error.message, testCase.message);
      if (testCase.status === 503) assert.ok(Number(response.headers.get('retry-after')) >= 1);
      assert.doesNotMatch(body.error.message, /at .*\.js:\d+/);
    });
  }
});

describe('startup states', () => {
  test('/health is 503 "Loading model" while a startup model loads, then 200 ok', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gateway = await startTestGateway(`[api.models.slow]\npath = "${models.stories}"\ntype = "chat"\n`, {
      factories: { llama: standInFactory({ gate }), 'llama-server': standInFactory({ gate }), onnx: standInFactory() },
      waitForModels: false,
    });
    try {
      const loading = await fetch(`${gateway.url}/health`);
      assert.equal(loading.status, 503);
      const body = (await loading.json()) as { error: { message: string }; models: Record<string, { status: string }> };
      assert.equal(body.error.message, 'Loading model');
      assert.equal(body.models.slow.status, 'loading');
      const busy = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(busy.status, 503);
      assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'model_loading');
      release();
      await gateway.gateway.modelsSettled;
      const ready = await fetch(`${gateway.url}/health`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), {
        status: 'ok',
        models: { slow: { type: 'chat', status: 'ready' } },
        rate_limit: { store: 'memory', healthy: true },
        responses: { store: 'sqlite', healthy: true },
      });
    } finally {
      await gateway.close();
    }
  });

  test('a model whose load fails is unavailable with the kind of failure; the rest serves', async () => {
    const gateway = await startTestGateway(
      `[api.models.bad]\npath = "${models.stories}"\ntype = "chat"\n[api.models.good]\npath = "${models.embedOnnx}"\ntype = "embedding"\n`,
      {
        factories: { llama: standInFactory({ fail: 'not a GGUF file' }), 'llama-server': standInFactory({ fail: 'not a GGUF file' }), onnx: standInFactory() },
      },
    );
    try {
      const bad = (await gateway.client.models.retrieve('bad')) as unknown as { metadata: { status: string; reason: string } };
      assert.equal(bad.metadata.status, 'unavailable');
      assert.equal(bad.metadata.reason, 'failed to load');
      assert.equal(gateway.gateway.registry.find('bad')?.reason, 'failed to load: not a GGUF file');
      const good = (await gateway.client.models.retrieve('good')) as unknown as { metadata: { status: string } };
      assert.equal(good.metadata.status, 'ready');
    } finally {
      await gateway.close();
    }
  });

  test('api.enabled = false: the API answers 404 and /health stays up', async () => {
    const gateway = await startTestGateway('[api]\nenabled = false\n', { factories });
    try {
      assert.equal((await fetch(`${gateway.url}/v1/models`)).status, 404);
      assert.equal((await fetch(`${gateway.url}/health`)).status, 200);
    } finally {
      await gateway.close();
    }
  });

  test('require_auth: a missing or wrong key is the SDK AuthenticationError; /health stays public', async () => {
    const gateway = await startTestGateway('[api]\nrequire_auth = true\napi_key = "sk-right"\n', { factories, apiKey: 'sk-wrong' });
    try {
      await assert.rejects(gateway.client.models.list(), (error: unknown) => error instanceof OpenAI.AuthenticationError && error.code === 'invalid_api_key');
      const right = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-right', maxRetries: 0 });
      assert.deepEqual((await right.models.list()).data, []);
      const viaHeader = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': 'sk-right' } });
      assert.equal(viaHeader.status, 200);
      const none = await fetch(`${gateway.url}/v1/models`);
      assert.equal(none.status, 401);
      assert.doesNotMatch(await none.text(), /sk-right/);
      assert.equal((await fetch(`${gateway.url}/health`)).status, 200);
    } finally {
      await gateway.close();
    }
  });
});
