// Hostile clients against the metrics and the key check, end to end on a listening gateway with the
// real llama.cpp engine: label values come from closed sets whatever the request, failed keys are
// throttled per client address without slowing the keys in use, and per-key usage series are for
// admin keys (a user key sees its own).
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { models } from '../helpers/paths.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

const ADMIN_KEY = 'sk-admin-hostile-0000';
const USER_KEY = 'sk-user-hostile-1111';
const LIMITED_KEY = 'sk-limited-hostile-2222';
const ORIGIN = 'http://localhost:3000';

const MODELS = `
[api.models.story]
path = "${models.stories}"
type = "completion"
context_length = 256
threads = 1
parallel = 2
`;

const CONFIG = `
[api]
require_auth = true
api_key = "${ADMIN_KEY}"
cors_enabled = true
cors_origins = ["${ORIGIN}"]

[[api.keys]]
name = "user"
key = "${USER_KEY}"
models = ["story"]

[[api.keys]]
name = "limited"
key = "${LIMITED_KEY}"
max_requests_per_minute = 5

[metrics]
require_auth = true
${MODELS}`;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** The client's source address (any 127.0.0.0/8 address reaches a loopback listener on Linux). */
  localAddress?: string;
}

// One keep-alive agent: 10,000 requests over a few sockets instead of 10,000 connections.
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function send(base: string, request: RawRequest): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        agent: request.localAddress ? undefined : agent,
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        localAddress: request.localAddress,
        headers: { ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}), ...request.headers },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function randomSegment(): string {
  // 100 to 4,000 characters of URL-safe noise: each one a path never seen before.
  return randomBytes(75 + Math.floor(Math.random() * 2_925)).toString('base64url');
}

/** Each kind of request a stranger or a key holder can send with made-up paths and model names. */
const HOSTILE_REQUESTS: Array<(index: number) => RawRequest> = [
  () => ({ method: 'GET', path: `/v1/${randomSegment()}` }),
  () => ({ method: 'POST', path: `/${randomSegment()}`, body: '{}' }),
  () => ({ method: 'DELETE', path: `/v1/chat/${randomSegment()}` }),
  () => ({ method: 'OPTIONS', path: `/v1/${randomSegment()}`, headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } }),
  () => ({ method: 'PUT', path: `/v1/models/${randomSegment()}`, headers: bearer(ADMIN_KEY) }),
  () => ({ method: 'GET', path: `/v1/${randomSegment()}`, headers: bearer(ADMIN_KEY) }),
  () => ({ method: 'GET', path: `/v1/models/${randomSegment()}`, headers: bearer(USER_KEY) }),
  () => ({
    method: 'POST',
    path: '/v1/completions',
    headers: bearer(USER_KEY),
    body: JSON.stringify({ model: randomSegment().slice(0, 200), prompt: 'x', max_tokens: 1 }),
  }),
  () => ({ method: 'POST', path: '/v1/embeddings', headers: bearer(ADMIN_KEY), body: JSON.stringify({ model: randomSegment().slice(0, 200), input: 'x' }) }),
  () => ({ method: 'GET', path: `/v1/${randomSegment()}`, headers: bearer(LIMITED_KEY) }),
  () => ({ method: 'DELETE', path: `/v1/models/${randomSegment()}`, headers: bearer(LIMITED_KEY) }),
];

async function sendAll(base: string, count: number, concurrency = 16): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        const reply = await send(base, HOSTILE_REQUESTS[index % HOSTILE_REQUESTS.length](index));
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

async function scrape(base: string, key: string): Promise<string> {
  const reply = await send(base, { method: 'GET', path: '/metrics', headers: bearer(key) });
  assert.equal(reply.status, 200, reply.body.slice(0, 300));
  return reply.body;
}

/**
 * The gateway's own series (`name{labels}`), without the Node.js and process metrics whose label
 * sets follow the runtime (a first major GC, a new kind of handle), not the requests.
 */
function gatewaySeries(text: string): Set<string> {
  const series = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || /^switchyard_(nodejs|process)_/.test(line)) continue;
    series.add(line.slice(0, line.lastIndexOf(' ')));
  }
  return series;
}

describe('bounded metrics', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(CONFIG);
  });
  after(() => gateway.close());

  test('10,000 requests to random long paths and model names, with and without keys, add no series', async () => {
    // A real completion for each key, then every hostile kind a few times: the series a bounded
    // label set can have exist before the count is taken.
    for (const key of [ADMIN_KEY, USER_KEY]) {
      const reply = await send(gateway.url, {
        method: 'POST',
        path: '/v1/completions',
        headers: bearer(key),
        body: JSON.stringify({ model: 'story', prompt: 'Once', max_tokens: 2 }),
      });
      assert.equal(reply.status, 200, reply.body);
    }
    await sendAll(gateway.url, HOSTILE_REQUESTS.length * 8);
    await scrape(gateway.url, ADMIN_KEY);
    const before = gatewaySeries(await scrape(gateway.url, ADMIN_KEY));

    const started = performance.now();
    const statuses = await sendAll(gateway.url, 10_000);
    const seconds = (performance.now() - started) / 1000;
    const text = await scrape(gateway.url, ADMIN_KEY);
    const added = [...gatewaySeries(text)].filter((series) => !before.has(series));

    assert.deepEqual(
      added.slice(0, 5).map((series) => series.slice(0, 200)),
      [],
      `${added.length} new series after 10,000 hostile requests`,
    );
    assert.equal(statuses.get(500) ?? 0, 0, 'no request is a 500');
    for (const status of [401, 404, 405, 429, 204])
      assert.ok((statuses.get(status) ?? 0) > 0, `some requests were ${status}: ${JSON.stringify([...statuses])}`);
    // Refused requests are labelled with their route pattern or "unmatched", never their path.
    assert.match(text, /switchyard_requests_total\{route="unmatched",model="",status="401"\} \d+/);
    assert.match(text, /switchyard_requests_total\{route="\/v1\/completions",model="",status="404"\} \d+/);
    assert.ok(text.length < 200_000, `the scrape stays small: ${text.length} characters`);
    assert.ok(seconds < 60, `10,000 requests took ${seconds.toFixed(1)} s`);
  });
});

describe('failed keys are throttled per client address', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(CONFIG);
  });
  after(() => gateway.close());

  test('after 20 wrong keys a minute: 429 with Retry-After for any key not in use; keys in use keep working', async () => {
    // The admin key is in use from this address before the guessing starts.
    assert.equal((await send(gateway.url, { method: 'GET', path: '/v1/models', headers: bearer(ADMIN_KEY) })).status, 200);
    for (let guess = 0; guess < 20; guess++) {
      const reply = await send(gateway.url, { method: 'GET', path: '/v1/models', headers: bearer(`sk-guess-${guess}-${randomSegment().slice(0, 20)}`) });
      assert.equal(reply.status, 401, `guess ${guess}`);
    }
    const throttled = await send(gateway.url, { method: 'GET', path: `/v1/${randomSegment()}`, headers: bearer('sk-guess-one-more') });
    assert.equal(throttled.status, 429);
    const envelope = JSON.parse(throttled.body) as { error: { type: string; code: string; message: string } };
    assert.equal(envelope.error.type, 'rate_limit_error');
    assert.equal(envelope.error.code, 'auth_failures_exceeded');
    assert.match(envelope.error.message, /20/, 'the message names the limit');
    assert.ok(
      Number(throttled.headers['retry-after']) >= 1 && Number(throttled.headers['retry-after']) <= 60,
      `Retry-After ${throttled.headers['retry-after']}`,
    );
    assert.ok(Number(throttled.headers['retry-after-ms']) >= 1, `retry-after-ms ${throttled.headers['retry-after-ms']}`);

    // A right guess learns nothing either: a key not yet used from this address waits like a wrong one.
    assert.equal((await send(gateway.url, { method: 'GET', path: '/v1/models', headers: bearer(USER_KEY) })).status, 429);
    assert.equal((await send(gateway.url, { method: 'GET', path: '/v1/models' })).status, 429);

    // The key in use from this address keeps working, at full speed.
    const started = performance.now();
    for (let request = 0; request < 50; request++) {
      assert.equal((await send(gateway.url, { method: 'GET', path: '/v1/models', headers: bearer(ADMIN_KEY) })).status, 200);
    }
    const perRequestMs = (performance.now() - started) / 50;
    assert.ok(perRequestMs < 100, `a valid key from the throttled address took ${perRequestMs.toFixed(1)} ms a request`);

    // Another address is not throttled: its wrong keys are 401 and its right keys 200.
    const elsewhere = '127.0.0.2';
    assert.equal((await send(gateway.url, { method: 'GET', path: '/v1/models', headers: bearer('sk-wrong-elsewhere'), localAddress: elsewhere })).status, 401);
    assert.equal((await send(gateway.url, { method: 'GET', path: '/v1/models', headers: bearer(USER_KEY), localAddress: elsewhere })).status, 200);

    // Public endpoints never need a key and are never throttled.
    assert.equal((await send(gateway.url, { method: 'GET', path: '/health' })).status, 200);
    const metrics = await scrape(gateway.url, ADMIN_KEY);
    assert.match(metrics, /switchyard_rate_limit_rejections_total\{kind="auth"\} [1-9]/);
    assert.match(metrics, /switchyard_requests_total\{route="unmatched",model="",status="429"\} [1-9]/);
  });

  test('wrong keys presented to /health count too, and a throttled address reads /health as the public does', async () => {
    const address = '127.0.0.3';
    // A model that failed to load, so the admin's view of /health (its reason) differs from the public one.
    const withFailure = await startTestGateway(`${CONFIG}
[api.models.missing]
path = "/nonexistent/model.gguf"
type = "completion"
`);
    try {
      const health = async (key?: string) =>
        JSON.parse((await send(withFailure.url, { method: 'GET', path: '/health', headers: key ? bearer(key) : {}, localAddress: address })).body) as {
          models: Record<string, { reason?: string }>;
        };
      for (let guess = 0; guess < 20; guess++) assert.equal((await health(`sk-health-guess-${guess}`)).models.missing.reason, undefined);
      // The guesses on /health throttle the API for this address.
      assert.equal((await send(withFailure.url, { method: 'GET', path: '/v1/models', headers: bearer('sk-one-more'), localAddress: address })).status, 429);
      // And the right admin key, not yet in use from here, gets the public view: a right guess looks like a wrong one.
      const view = await health(ADMIN_KEY);
      assert.equal(view.models.missing.reason, undefined);
      // From another address the admin key reads the reason.
      const admin = JSON.parse(
        (await send(withFailure.url, { method: 'GET', path: '/health', headers: bearer(ADMIN_KEY), localAddress: '127.0.0.4' })).body,
      ) as { models: Record<string, { reason?: string }> };
      assert.match(admin.models.missing.reason ?? '', /nonexistent/);
    } finally {
      await withFailure.close();
    }
  });

  test('max_auth_failures_per_minute = 0 turns the throttle off', async () => {
    const unthrottled = await startTestGateway(`
[api]
require_auth = true
api_key = "${ADMIN_KEY}"
max_auth_failures_per_minute = 0
`);
    try {
      for (let guess = 0; guess < 40; guess++) {
        assert.equal((await send(unthrottled.url, { method: 'GET', path: '/v1/models', headers: bearer(`sk-guess-${guess}`) })).status, 401);
      }
    } finally {
      await unthrottled.close();
    }
  });
});

describe('failed keys counted through Redis', () => {
  test("two replicas sharing Redis count one address's failures together", async () => {
    const redis = await startRedisServer();
    const toml = `
[api]
require_auth = true
api_key = "${ADMIN_KEY}"
max_auth_failures_per_minute = 10

[api.rate_limit]
store = "redis"
redis_url = "${redis.url}"
key_prefix = "failed-keys-${process.pid}"
`;
    const replicas = await Promise.all([startTestGateway(toml), startTestGateway(toml)]);
    try {
      for (const replica of replicas) {
        await waitFor(() => replica.logs.some((record) => record.msg === 'rate-limit store connected'), 10_000, 'the rate-limit store to connect');
      }
      const statuses: number[] = [];
      for (let guess = 0; guess < 14; guess++) {
        statuses.push((await send(replicas[guess % 2].url, { method: 'GET', path: '/v1/models', headers: bearer(`sk-guess-${guess}`) })).status);
      }
      assert.deepEqual(statuses, [...Array<number>(10).fill(401), ...Array<number>(4).fill(429)]);

      // Guesses sent all at once from another address: the count is taken atomically, so no more
      // than the limit learn anything (reading the count, then adding to it, let them all through).
      const parallel = await Promise.all(
        Array.from({ length: 60 }, (_, guess) =>
          send(replicas[guess % 2].url, { method: 'GET', path: '/v1/models', headers: bearer(`sk-parallel-${guess}`), localAddress: '127.0.0.9' }),
        ),
      );
      const unthrottled = parallel.filter((reply) => reply.status === 401).length;
      assert.ok(unthrottled <= 10, `${unthrottled} of 60 parallel guesses were checked`);
      assert.equal(parallel.filter((reply) => reply.status === 429).length, 60 - unthrottled);
      // A right key, new to that address, is refused like a wrong one; the admin key in use elsewhere is not.
      assert.equal((await send(replicas[0].url, { method: 'GET', path: '/v1/models', headers: bearer(ADMIN_KEY), localAddress: '127.0.0.9' })).status, 429);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
      await redis.stop();
    }
  });
});

describe('per-key usage series in /metrics', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(CONFIG);
  });
  after(() => gateway.close());

  test('with require_auth a user key sees only its own usage series; an admin key sees every key', async () => {
    for (const key of [ADMIN_KEY, USER_KEY]) {
      const reply = await send(gateway.url, {
        method: 'POST',
        path: '/v1/completions',
        headers: bearer(key),
        body: JSON.stringify({ model: 'story', prompt: 'Once', max_tokens: 2 }),
      });
      assert.equal(reply.status, 200, reply.body);
    }
    assert.equal((await send(gateway.url, { method: 'GET', path: '/metrics' })).status, 401);

    const asUser = await scrape(gateway.url, USER_KEY);
    assert.match(asUser, /switchyard_prompt_tokens_total\{model="story",key="user"\} [1-9]/);
    assert.match(asUser, /switchyard_completion_tokens_total\{model="story",key="user"\} [1-9]/);
    assert.doesNotMatch(asUser, /key="default"/, 'a user key reads no other key');
    assert.match(asUser, /switchyard_requests_total\{route="\/v1\/completions",model="story",status="200"\} 2/, 'the shared series stay');

    const asAdmin = await scrape(gateway.url, ADMIN_KEY);
    for (const key of ['default', 'user']) {
      assert.match(asAdmin, new RegExp(`switchyard_prompt_tokens_total\\{model="story",key="${key}"\\} [1-9]`));
      assert.match(asAdmin, new RegExp(`switchyard_completion_tokens_total\\{model="story",key="${key}"\\} [1-9]`));
    }
  });
});
