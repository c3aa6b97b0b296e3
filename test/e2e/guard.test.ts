// The guard end to end: keys, model permissions, CORS, request/token/concurrency limits, with the
// official openai SDK against a listening gateway on the real llama.cpp engine.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { sha256Of } from '../../src/config/load-config.js';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

const HASHED_KEY = 'sk-hashed-0123456789';

const CONFIG = `
[api]
require_auth = true
api_key = "sk-admin-key-0000"
cors_enabled = true
cors_origins = ["http://localhost:3000"]

[[api.keys]]
name = "chat-only"
key = "sk-chat-only-1111"
models = ["story*"]

[[api.keys]]
name = "limited"
key_sha256 = "${sha256Of(HASHED_KEY).toString('hex')}"
max_requests_per_minute = 3

[[api.keys]]
name = "tokens"
key = "sk-tokens-2222"
max_tokens_per_minute = 200

[[api.keys]]
name = "single"
key = "sk-single-3333"
max_concurrent_requests = 1

[api.models.story]
path = "${models.stories}"
type = "completion"
context_length = 2048
threads = 2
parallel = 4

[api.models.embed]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1
`;

function clientFor(gateway: TestGateway, apiKey: string, maxRetries = 0): OpenAI {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries, timeout: 60_000 });
}

describe('the guard', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(CONFIG);
  });
  after(() => gateway.close());

  test('a missing or wrong key is the SDK AuthenticationError; the key never shows', async () => {
    await assert.rejects(
      clientFor(gateway, 'sk-wrong-key').models.list(),
      (error: unknown) => error instanceof OpenAI.AuthenticationError && error.code === 'invalid_api_key',
    );
    const anonymous = await fetch(`${gateway.url}/v1/models`);
    assert.equal(anonymous.status, 401);
    const queryKey = await fetch(`${gateway.url}/v1/models?api_key=sk-admin-key-0000`);
    assert.equal(queryKey.status, 401, 'query keys are refused unless allow_query_key');
    const logged = JSON.stringify(gateway.logs);
    assert.doesNotMatch(logged, /sk-admin-key-0000|sk-wrong-key/);
  });

  test('keys work as Bearer and as X-API-Key; a sha256-configured key works', async () => {
    assert.equal((await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Bearer sk-admin-key-0000' } })).status, 200);
    assert.equal((await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': 'sk-admin-key-0000' } })).status, 200);
    assert.equal((await clientFor(gateway, HASHED_KEY).models.list()).data.length, 2);
  });

  test('a key lists only its models and gets PermissionDeniedError for others', async () => {
    const chatOnly = clientFor(gateway, 'sk-chat-only-1111');
    assert.deepEqual(
      (await chatOnly.models.list()).data.map((model) => model.id),
      ['story'],
    );
    await assert.rejects(chatOnly.embeddings.create({ model: 'embed', input: 'x' }), (error: unknown) => error instanceof OpenAI.PermissionDeniedError);
    const completion = await chatOnly.completions.create({ model: 'story', prompt: 'Once', max_tokens: 2 });
    assert.equal(completion.choices.length, 1);
  });

  test('/health stays public', async () => {
    assert.equal((await fetch(`${gateway.url}/health`)).status, 200);
  });

  test('requests per minute: headers on success, RateLimitError with Retry-After beyond', async () => {
    // The previous test spent one of this key's 3 requests.
    const limited = clientFor(gateway, HASHED_KEY);
    const second = await limited.models.list().withResponse();
    assert.equal(second.response.headers.get('x-ratelimit-limit-requests'), '3');
    assert.equal(second.response.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.match(second.response.headers.get('x-ratelimit-reset-requests') ?? '', /^\d+(ms|s)$|^\d+m\d+s$/);
    await limited.models.list();
    await assert.rejects(limited.models.list(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.ok(Number(error.headers?.get('retry-after')) >= 1);
      assert.ok(Number(error.headers?.get('retry-after-ms')) >= 1);
      assert.equal(error.headers?.get('x-ratelimit-remaining-requests'), '0');
      return true;
    });
  });

  test('a token limit under 16 concurrent requests never overshoots', async () => {
    const tokens = clientFor(gateway, 'sk-tokens-2222');
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, index) =>
        tokens.completions.create({ model: 'story', prompt: `Once upon a time ${index}`, max_tokens: 20, temperature: 0.8 }),
      ),
    );
    const used = results
      .filter((result) => result.status === 'fulfilled')
      .reduce((sum, result) => sum + (result as PromiseFulfilledResult<OpenAI.Completion>).value.usage!.total_tokens, 0);
    const refused = results.filter((result) => result.status === 'rejected');
    assert.ok(used <= 200, `used ${used} tokens of 200`);
    assert.ok(refused.length > 0, 'some requests were refused');
    for (const result of refused) assert.ok((result as PromiseRejectedResult).reason instanceof OpenAI.RateLimitError);
  });

  test('a request that can never fit gets 429 with x-should-retry: false', async () => {
    const response = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-tokens-2222', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'story', prompt: 'Once', max_tokens: 1000 }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('x-should-retry'), 'false');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'tokens_exceed_limit');
  });

  test('the SDK retries a 429 after the time the gateway gives', async () => {
    // "single" may run one request at a time: while a stream runs, a second request is refused
    // with retry-after-ms 1000; the SDK waits that long, and by then the stream has ended.
    const controller = new AbortController();
    const stream = await clientFor(gateway, 'sk-single-3333').completions.create(
      { model: 'story', prompt: 'Once upon a time', max_tokens: 1500, stream: true },
      { signal: controller.signal },
    );
    const reader = (async () => {
      try {
        for await (const _chunk of stream) {
          // keep reading until aborted
        }
      } catch {
        // aborted
      }
    })();
    setTimeout(() => controller.abort(), 400);
    const started = performance.now();
    const retried = await clientFor(gateway, 'sk-single-3333', 2).models.list();
    const waited = performance.now() - started;
    await reader;
    assert.ok(retried.data.length > 0);
    assert.ok(waited >= 900, `the SDK waited ${waited.toFixed(0)} ms`);
  });

  test('CORS: an allowed origin gets headers before auth; a disallowed one gets none', async () => {
    const preflight = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-stainless-os',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').split(',');
    for (const header of ['authorization', 'content-type', 'x-api-key', 'x-stainless-os', 'x-stainless-retry-count'])
      assert.ok(allowed.includes(header), header);
    const actual = await fetch(`${gateway.url}/v1/models`, { headers: { origin: 'http://localhost:3000', authorization: 'Bearer sk-admin-key-0000' } });
    assert.equal(actual.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.match(actual.headers.get('access-control-expose-headers') ?? '', /x-ratelimit-remaining-requests/);
    assert.ok((actual.headers.get('access-control-expose-headers') ?? '').split(',').includes('request-id'));
    // What Anthropic's SDK sends from a browser, and DELETE (a stored response).
    const anthropic = await fetch(`${gateway.url}/v1/messages`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-api-key,content-type,anthropic-version,anthropic-beta,anthropic-dangerous-direct-browser-access',
      },
    });
    const anthropicAllowed = (anthropic.headers.get('access-control-allow-headers') ?? '').split(',');
    for (const header of ['anthropic-version', 'anthropic-beta', 'anthropic-dangerous-direct-browser-access'])
      assert.ok(anthropicAllowed.includes(header), header);
    const deletion = await fetch(`${gateway.url}/v1/responses/resp_1`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'DELETE' },
    });
    assert.ok((deletion.headers.get('access-control-allow-methods') ?? '').split(',').includes('DELETE'));
    const denied = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(denied.headers.get('access-control-allow-origin'), null);
    assert.equal(denied.headers.get('access-control-allow-headers'), null);
  });
});

describe('network default', () => {
  test('a non-loopback address without auth refuses to start unless allow_unauthenticated', async () => {
    const { parseConfig } = await import('../../src/config/load-config.js');
    const { startGateway } = await import('../../src/server/gateway.js');
    const { createSilentLogger } = await import('../../src/logger.js');
    const loaded = parseConfig('', 'config.toml');
    await assert.rejects(
      startGateway({ loaded, logger: createSilentLogger(), address: '0.0.0.0:0' }),
      /refusing to listen on 0\.0\.0\.0 without authentication/,
    );
    const allowed = parseConfig('[api]\nallow_unauthenticated = true\n', 'config.toml');
    const gateway = await startGateway({ loaded: allowed, logger: createSilentLogger(), address: '0.0.0.0:0' });
    await gateway.close();
  });
});
