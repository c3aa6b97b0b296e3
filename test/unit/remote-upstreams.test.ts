import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { GatewayError } from '../../src/errors.js';
import { QueueFullError, QueueTimeoutError } from '../../src/scheduler/admission-errors.js';
import { UpstreamStreamError } from '../../src/upstream/openai-client.js';
import { sseData } from '../../src/upstream/sse-frames.js';
import { UpstreamClient } from '../../plugins/remote/upstream-client.js';
import { UpstreamPool } from '../../plugins/remote/upstream-pool.js';
import { generationFields, spreadTokens } from '../../plugins/remote/upstream-wire.js';

async function* chunks(parts: Array<string | Uint8Array>) {
  for (const part of parts) yield typeof part === 'string' ? new TextEncoder().encode(part) : part;
}

async function collect(parts: Array<string | Uint8Array>): Promise<string[]> {
  const frames: string[] = [];
  for await (const data of sseData(chunks(parts))) frames.push(data);
  return frames;
}

describe('remote: SSE frames from an upstream', () => {
  test('frames split anywhere, CRLF, comments and multi-line data', async () => {
    const euro = new TextEncoder().encode('data: {"t":"€"}\n\n');
    // Split inside the three bytes of "€".
    const cut = euro.indexOf(0xe2) + 1;
    assert.deepEqual(
      await collect([': keep-alive\n\nda', 'ta: {"a":1}\r', '\n\r\ndata: x\ndata: y\n\n', euro.slice(0, cut), euro.slice(cut), 'data: [DONE]\n\n']),
      ['{"a":1}', 'x\ny', '{"t":"€"}', '[DONE]'],
    );
  });

  test('a last frame without its blank line still counts', async () => {
    assert.deepEqual(await collect(['data: [DONE]']), ['[DONE]']);
  });
});

describe('remote: upstream pool', () => {
  test('least busy first, rotating among equals; skips tried and down upstreams', () => {
    let now = 0;
    const pool = new UpstreamPool(['http://a/v1', 'http://b/v1'], { backoffInitialMs: 1000, backoffMaxMs: 8000, now: () => now });
    const [a, b] = pool.upstreams;
    const first = pool.pick()!;
    const second = pool.pick()!;
    assert.notEqual(first, second, 'equal load alternates');
    a.inFlight = 3;
    assert.equal(pool.pick(), b);
    assert.equal(pool.pick(new Set([b])), a);
    pool.markDown(b, 'refused');
    assert.equal(pool.pick(), a);
    assert.equal(pool.pick(new Set([a])), undefined);
    now = 1000;
    assert.equal(pool.pick(new Set([a])), b, 'back after its backoff');
  });

  test('backoff doubles per consecutive failure up to the maximum; success resets it', () => {
    let now = 0;
    const changes: string[] = [];
    const pool = new UpstreamPool(['http://a/v1'], {
      backoffInitialMs: 1000,
      backoffMaxMs: 4000,
      now: () => now,
      onChange: (_upstream, state) => changes.push(state),
    });
    const [a] = pool.upstreams;
    const waits = [1, 2, 3, 4].map(() => {
      pool.markDown(a, 'x');
      return a.downUntil - now;
    });
    assert.deepEqual(waits, [1000, 2000, 4000, 4000]);
    assert.equal(pool.retryAfterMs(), 4000);
    pool.markUp(a);
    assert.equal(pool.pick(), a);
    assert.deepEqual(changes, ['down', 'up']);
    pool.markDown(a, 'x', 3000);
    assert.equal(a.downUntil - now, 3000, "an upstream's Retry-After is honoured");
  });
});

describe('remote: places per upstream', () => {
  test('max_concurrent_per_upstream holds with the other upstream down: a request waits for a place, or gives up when the client leaves', async () => {
    const pool = new UpstreamPool(['http://a/v1', 'http://b/v1'], { backoffInitialMs: 60_000, backoffMaxMs: 60_000, maxConcurrentPerUpstream: 1 });
    const [a, b] = pool.upstreams;
    pool.markDown(b, 'refused');
    assert.equal(await pool.acquire(new Set()), a);
    let second: unknown = 'waiting';
    const waiting = pool.acquire(new Set()).then((upstream) => (second = upstream));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(second, 'waiting', 'no second place on a');
    pool.release(a);
    assert.equal(await waiting, a);
    const leaving = new AbortController();
    const abandoned = pool.acquire(new Set(), leaving.signal);
    leaving.abort();
    assert.equal(await abandoned, undefined);
    assert.equal(await pool.acquire(new Set([a])), undefined, 'nothing to wait for: every other upstream is down');
    pool.release(a);
    assert.equal(a.inFlight, 0);
  });

  test('that wait is a queue with the model limits: max_queue waiters at most, each for queue_timeout', async () => {
    const queue = { model: 'remote-model', maxQueue: 1, queueTimeoutMs: 100 };
    const pool = new UpstreamPool(['http://a/v1'], { backoffInitialMs: 60_000, backoffMaxMs: 60_000, maxConcurrentPerUpstream: 1, queue });
    const [a] = pool.upstreams;
    assert.equal(await pool.acquire(new Set()), a);
    const waiting = pool.acquire(new Set());
    await assert.rejects(pool.acquire(new Set()), (error: unknown) => error instanceof QueueFullError && /remote-model.*max_queue/.test(error.message));
    const started = performance.now();
    await assert.rejects(waiting, (error: unknown) => error instanceof QueueTimeoutError && /queue_timeout/.test(error.message));
    assert.ok(performance.now() - started < 1_000, 'the waiter gave up after queue_timeout');
    pool.release(a);
    assert.equal(a.inFlight, 0);
  });
});

describe('remote: wire', () => {
  test('only the fields a request set are sent', () => {
    const signal = new AbortController().signal;
    assert.deepEqual(generationFields({ maxTokens: 5, temperature: 0, stop: [], signal }, 'chat'), { max_tokens: 5, temperature: 0 });
    assert.deepEqual(
      generationFields({ maxTokens: 5, temperature: 1, stop: ['x'], seed: 3, topK: 4, topLogprobs: 2, constraint: { kind: 'json_object' }, signal }, 'text'),
      {
        max_tokens: 5,
        temperature: 1,
        stop: ['x'],
        seed: 3,
        top_k: 4,
        logprobs: 2,
        response_format: { type: 'json_object' },
      },
    );
  });

  test('an exact total spreads over inputs and stays exact', () => {
    assert.deepEqual(spreadTokens(10, [1, 1, 2]), [2, 2, 6]);
    assert.equal(
      spreadTokens(7, [3, 3, 3]).reduce((sum, count) => sum + count, 0),
      7,
    );
  });
});

/** A loopback server answering every POST with `answer`; counts the requests it got. */
async function answeringServer(answer: (response: http.ServerResponse) => void) {
  const server = http.createServer((request, response) => {
    served.count++;
    request.resume();
    request.on('end', () => answer(response));
  });
  const served = { count: 0, url: '', close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  served.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1`;
  return served;
}

function clientOf(urls: string[]) {
  const pool = new UpstreamPool(urls, { backoffInitialMs: 60_000, backoffMaxMs: 60_000 });
  return { pool, client: new UpstreamClient({ model: 'm', pool, responseTimeoutMs: 5_000, logger: pino({ level: 'silent' }) }) };
}

/** Reads a stream as the remote model does, as far as errors go: an error frame fails it. */
async function readFrames(response: Response): Promise<string> {
  for await (const data of sseData(response.body!)) {
    const frame = JSON.parse(data === '[DONE]' ? '{}' : data) as { error?: unknown };
    if (frame.error) throw new UpstreamStreamError('the stream failed', frame);
  }
  return 'done';
}

describe("remote: an upstream's answers that are the client's mistake", () => {
  test('an invalid_request_error frame before any text is relayed as a 400, not retried, and the upstream stays up', async () => {
    const upstream = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(`data: ${JSON.stringify({ error: { message: 'no suffix here', type: 'invalid_request_error', param: 'suffix', code: null } })}\n\n`);
    });
    try {
      const { pool, client } = clientOf([upstream.url]);
      await assert.rejects(client.send({ path: '/completions', body: {}, read: readFrames }), (error: unknown) => {
        assert.ok(error instanceof GatewayError);
        assert.deepEqual([error.status, error.type, error.param, error.message], [400, 'invalid_request_error', 'suffix', 'no suffix here']);
        return true;
      });
      assert.equal(upstream.count, 1);
      assert.equal(pool.snapshot()[0].status, 'up');
    } finally {
      await upstream.close();
    }
  });

  test('a 404 is relayed once no other upstream knows the model, and counts against none', async () => {
    const unknown = await answeringServer((response) => {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { message: "model 'x' not found", type: 'not_found_error', param: 'model', code: 'model_not_found' } }));
    });
    const knowing = await answeringServer((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end('data: [DONE]\n\n');
    });
    try {
      const alone = clientOf([unknown.url]);
      await assert.rejects(alone.client.send({ path: '/completions', body: {}, read: readFrames }), (error: unknown) => {
        assert.ok(error instanceof GatewayError);
        assert.deepEqual([error.status, error.code], [404, 'model_not_found']);
        return true;
      });
      assert.equal(alone.pool.snapshot()[0].status, 'up');
      const both = clientOf([unknown.url, knowing.url]);
      for (let index = 0; index < 2; index++) assert.equal(await both.client.send({ path: '/completions', body: {}, read: readFrames }), 'done');
      assert.deepEqual(
        both.pool.snapshot().map((upstream) => upstream.status),
        ['up', 'up'],
      );
    } finally {
      await Promise.all([unknown.close(), knowing.close()]);
    }
  });
});
