// The llama-server wire layer against a loopback stand-in that answers as llama-server does (its
// error envelope, its native event stream): what each failure becomes, and the fields a
// generation sends. The capabilities against the real server are in llama-server-capabilities.test.ts.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { LlamaServerConnection } from '../../src/backends/llama-server/connection.js';
import { samplingFields } from '../../src/backends/llama-server/generation.js';
import { postJson, postStream, relayableMessage } from '../../src/backends/llama-server/server-wire.js';
import { EngineUnavailableError, InputTooLongError, InvalidInputError, UnsupportedFeatureError } from '../../src/engine/errors.js';
import { createSilentLogger } from '../../src/logger.js';
import { OpenAIClient } from '../../src/upstream/openai-client.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;
const handlers = new Map<string, Handler>();
const standIn = createServer((request, response) => {
  request.resume();
  request.on('end', () => (handlers.get(request.url ?? '') ?? ((_, res) => res.writeHead(404).end()))(request, response));
});
let connection: LlamaServerConnection;

before(async () => {
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  const { port } = standIn.address() as AddressInfo;
  connection = {
    modelId: 'stand-in',
    baseUrl: () => `http://127.0.0.1:${port}`,
    client: new OpenAIClient({ responseTimeoutMs: 5_000 }),
    logger: createSilentLogger(),
  };
});
after(() => new Promise<void>((resolve) => standIn.close(() => resolve())));

function answer(status: number, body: unknown): Handler {
  return (_, response) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

test('the server\u2019s 400s become the client\u2019s errors: context overflow, invalid input (message made one line and capped), 501 unsupported', async () => {
  handlers.set(
    '/overflow',
    answer(400, { error: { code: 400, message: 'request (3000 tokens) exceeds the available context size (1024 tokens)', type: 'exceed_context_size_error' } }),
  );
  handlers.set('/invalid', answer(400, { error: { code: 400, message: `bad\n${'x'.repeat(1000)}`, type: 'invalid_request_error' } }));
  handlers.set('/unsupported', answer(501, { error: { code: 501, message: 'This server does not support embeddings.', type: 'not_supported_error' } }));
  handlers.set('/loading', answer(503, { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } }));
  await assert.rejects(
    postJson(connection, '/overflow', {}),
    (error: unknown) => error instanceof InputTooLongError && error.field === 'prompt' && /3000 tokens/.test(error.message),
  );
  await assert.rejects(
    postJson(connection, '/invalid', {}, undefined, 'input'),
    (error: unknown) => error instanceof InvalidInputError && error.field === 'input' && !error.message.includes('\n') && error.message.length <= 401,
  );
  await assert.rejects(postJson(connection, '/unsupported', {}), UnsupportedFeatureError);
  await assert.rejects(postJson(connection, '/loading', {}), (error: unknown) => error instanceof EngineUnavailableError && error.retryAfterMs >= 1000);
  assert.equal(relayableMessage('a\u0000b\r\nc'), 'a b c');
});

test('a process that is not there, or dies before answering, is EngineUnavailableError', async () => {
  const gone = { ...connection, baseUrl: () => 'http://127.0.0.1:9' };
  await assert.rejects(postJson(gone, '/tokenize', {}), (error: unknown) => error instanceof EngineUnavailableError && /not serving/.test(error.message));
  handlers.set('/dies', (request) => request.socket.destroy());
  await assert.rejects(postJson(connection, '/dies', {}), EngineUnavailableError);
});

test('streams: frames as they come; an in-band error frame throws; an end before the final frame is EngineUnavailableError', async () => {
  handlers.set('/complete', (_, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write('data: {"content":"Hel","tokens":[1],"stop":false}\n\n');
    response.end('data: {"content":"","tokens":[],"stop":true,"stop_type":"eos"}\n\n');
  });
  handlers.set('/failing', (_, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.end('data: {"content":"Hel","tokens":[1],"stop":false}\n\ndata: {"error":{"code":500,"message":"decode failed","type":"server_error"}}\n\n');
  });
  handlers.set('/cut', (_, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write('data: {"content":"Hel","tokens":[1],"stop":false}\n\n');
    setTimeout(() => response.socket?.destroy(), 20);
  });
  const frames: Array<Record<string, unknown>> = [];
  await postStream(connection, '/complete', {}, new AbortController().signal, (frame) => void frames.push(frame));
  assert.deepEqual(
    frames.map((frame) => frame.content),
    ['Hel', ''],
  );
  await assert.rejects(
    postStream(connection, '/failing', {}, new AbortController().signal, () => {}),
    (error: unknown) => error instanceof Error && !(error instanceof EngineUnavailableError) && /failed mid-generation: decode failed/.test(error.message),
  );
  await assert.rejects(
    postStream(connection, '/cut', {}, new AbortController().signal, () => {}),
    EngineUnavailableError,
  );
});

test('streams: a frame whose handling is pending holds the next back; what the handler throws is thrown as it is', async () => {
  handlers.set('/three', (_, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    // All three in one write: the second must still wait for the first one's promise.
    response.end(
      'data: {"content":"a","tokens":[1],"stop":false}\n\ndata: {"content":"b","tokens":[2],"stop":false}\n\ndata: {"content":"","tokens":[],"stop":true}\n\n',
    );
  });
  const seen: string[] = [];
  await postStream(connection, '/three', {}, new AbortController().signal, (frame) => {
    seen.push(`start ${String(frame.content)}`);
    if (frame.content !== 'a') return;
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        seen.push('a settled');
        resolve();
      }, 30),
    );
  });
  assert.deepEqual(seen, ['start a', 'a settled', 'start b', 'start ']);
  const handlerError = new TypeError('the handler failed');
  await assert.rejects(
    postStream(connection, '/three', {}, new AbortController().signal, () => {
      throw handlerError;
    }),
    (error: unknown) => error === handlerError,
  );
  await assert.rejects(
    postStream(connection, '/three', {}, new AbortController().signal, () => Promise.reject(handlerError)),
    (error: unknown) => error === handlerError,
  );
});

test('streams: aborting mid-stream closes the connection and rejects with the reason', async () => {
  let closed!: () => void;
  const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
  handlers.set('/endless', (_, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const timer = setInterval(() => response.write('data: {"content":"x","tokens":[1],"stop":false}\n\n'), 5);
    response.on('close', () => {
      clearInterval(timer);
      closed();
    });
  });
  const controller = new AbortController();
  const reason = new Error('client gone');
  let frames = 0;
  await assert.rejects(
    postStream(connection, '/endless', {}, controller.signal, () => {
      if (++frames === 3) controller.abort(reason);
    }),
    (error: unknown) => error === reason,
  );
  await serverSawClose;
});

test('streams: a kept-alive connection the server closed while idle is retried on a fresh one, never an error', async () => {
  handlers.set('/short', (_, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.end('data: {"content":"ok","tokens":[1],"stop":false}\n\ndata: {"content":"","tokens":[],"stop":true}\n\n');
  });
  const proxy = await startTcpProxy(new URL(connection.baseUrl()), { dropIdleAfterMs: 50 });
  const retries: string[] = [];
  const proxied = {
    ...connection,
    baseUrl: () => proxy.url,
    client: new OpenAIClient({ responseTimeoutMs: 5_000, onFreshConnectionRetry: (_, reason) => retries.push(reason) }),
  };
  try {
    // Every other request goes on a kept-alive connection (the retry's own connection is closed after it).
    for (let index = 0; index < 6; index++) {
      await new Promise((resolve) => setTimeout(resolve, 120));
      const texts: unknown[] = [];
      await postStream(proxied, '/short', {}, new AbortController().signal, (frame) => void texts.push(frame.content));
      assert.deepEqual(texts, ['ok', '']);
    }
    // Both ways of dropping (a FIN, then a reset) at least once.
    assert.ok(proxy.dropped >= 2, `${proxy.dropped} idle connections dropped`);
    assert.equal(retries.length, proxy.dropped);
  } finally {
    await proxy.close();
  }
});

test('sampling fields: the in-process defaults, -100 bans a token, logprobs of the model distribution, constraints', () => {
  const base = { maxTokens: 8, temperature: 0.5, stop: ['\n'], signal: new AbortController().signal };
  const fields = samplingFields(
    { ...base, seed: -1, logitBias: { 5: -100, 6: 2 }, topLogprobs: 0, constraint: { kind: 'json_object' } },
    { contextLength: 64, vocabularySize: 10 },
  );
  assert.equal(fields.top_k, 40);
  assert.equal(fields.top_p, 0.95);
  assert.equal(fields.min_p, 0);
  assert.equal(fields.seed, 2 ** 32 - 1, 'seeds map into llama.cpp\u2019s unsigned 32 bits');
  assert.deepEqual(fields.logit_bias, [
    [5, false],
    [6, 2],
  ]);
  assert.equal(fields.n_probs, 1);
  assert.equal(fields.post_sampling_probs, undefined, 'logprobs of the model\u2019s distribution, not the sampler\u2019s');
  assert.deepEqual(fields.json_schema, { type: 'object' });
  assert.throws(() => samplingFields({ ...base, logitBias: { 10: 1 } }, { contextLength: 64, vocabularySize: 10 }), UnsupportedFeatureError);
  assert.deepEqual(
    samplingFields({ ...base, constraint: { kind: 'gbnf', grammar: 'root ::= "a"' } }, { contextLength: 64, vocabularySize: 10 }).grammar,
    'root ::= "a"',
  );
});
