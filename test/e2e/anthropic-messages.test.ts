// Anthropic's Messages API end to end with the official @anthropic-ai/sdk against a listening gateway
// on the in-process engine: every bad input a 4xx in Anthropic's error shape, the guard (keys by
// x-api-key, model permissions, per-key request and token limits, the queue, cancel on disconnect,
// the context check) exactly as on /v1/chat/completions, thinking streamed as thinking_delta, and the
// route in /metrics and the access log. The engines' conformance is test/conformance/messages.test.ts.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { writeThinkingModel } from '../helpers/thinking-model.js';

const ADMIN = 'sk-admin-key-0000';
const THOUGHT_BUDGET = 6;

async function config(): Promise<string> {
  const thinking = await writeThinkingModel();
  const chat = `type = "chat"\nbackend = "llama"\nthreads = 1\nparallel = 1\n`;
  return `
[api]
require_auth = true
api_key = "${ADMIN}"

[[api.keys]]
name = "other-models"
key = "sk-other-1111"
models = ["nothing*"]

[[api.keys]]
name = "one-a-minute"
key = "sk-once-2222"
max_requests_per_minute = 1

[[api.keys]]
name = "few-tokens"
key = "sk-tokens-3333"
max_tokens_per_minute = 100

[api.models.chat]
path = "${models.storiesChatml}"
${chat}context_length = 256

[api.models.think]
path = "${thinking}"
${chat}context_length = 512
max_queue = 1
queue_timeout = 60

[api.models.think-budget]
path = "${thinking}"
${chat}context_length = 512
max_thinking_tokens = ${THOUGHT_BUDGET}
`;
}

const ask = (content: string): Anthropic.MessageParam => ({ role: 'user', content });

describe('Anthropic Messages API on llama.cpp', () => {
  let gateway: TestGateway;
  const clientWith = (apiKey: string | null) => new Anthropic({ baseURL: gateway.url, apiKey, maxRetries: 0, timeout: 60_000 });
  let client: Anthropic;
  before(async () => {
    gateway = await startTestGateway(await config());
    client = clientWith(ADMIN);
  });
  after(() => gateway.close());

  /** Sends `body` as it is (what the SDK's types would not let through) and expects a 400 naming `pattern`. */
  async function refused(body: Record<string, unknown>, pattern: RegExp): Promise<void> {
    await assert.rejects(
      client.messages.create({ model: 'chat', max_tokens: 4, messages: [ask('Hi')], ...body } as unknown as Anthropic.MessageCreateParamsNonStreaming),
      (error: unknown) => {
        assert.ok(error instanceof Anthropic.BadRequestError, String(error));
        const body = error.error as { type: string; error: { type: string; message: string } };
        assert.equal(body.type, 'error');
        assert.equal(body.error.type, 'invalid_request_error');
        assert.match(body.error.message, pattern);
        return true;
      },
    );
  }

  test('bad inputs are 400s in Anthropic shape naming the field, the block type or the tool type', async () => {
    await refused({ max_tokens: undefined }, /Missing required parameter: 'max_tokens'/);
    await refused({ frequency_penalty: 1 }, /frequency_penalty: Extra inputs are not permitted/);
    await refused({ mcp_servers: [] }, /mcp_servers: not supported/);
    await refused({ temperature: 1.5 }, /'temperature'.*<= 1/);
    await refused(
      { messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] },
      /messages\[0\]\.content\[0\]\.type: the block type 'document'/,
    );
    await refused({ messages: [{ role: 'system', content: 'Hi' }] }, /messages\[0\]\.role/);
    await refused({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, /tools\[0\]\.type: the server tool 'web_search_20250305'/);
    await refused({ tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'sometimes' } }, /tool_choice/);
    await refused({ tools: [{ name: 'f', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'g' } }, /tool_choice\.name: 'g'/);
    await refused({ tools: [{ name: 'f', input_schema: { type: 'array' } }] }, /tools\[0\]\.input_schema/);
    await refused(
      { messages: [ask('Hi'), { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_none', content: 'x' }] }] },
      /messages\[1\]\.content\[0\]\.tool_use_id: 'toolu_none' matches no tool_use/,
    );
    await refused({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'http://10.0.0.1/a.png' } }] }] }, /Remote image URLs/);
    await refused(
      { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }] },
      /content\[0\]\.source/,
    );
    await refused({ thinking: { type: 'enabled', budget_tokens: 8 } }, /thinking\.budget_tokens: must be less than max_tokens/);
    await refused({ messages: [ask('Hi'), { role: 'assistant', content: 'Once upon' }] }, /messages\[1\]: .*prefill/);
    await refused(
      {
        max_tokens: 64,
        thinking: { type: 'enabled', budget_tokens: 8 },
        tools: [{ name: 'f', input_schema: { type: 'object' } }],
        tool_choice: { type: 'any' },
      },
      /thinking: cannot be enabled when tool_choice forces/,
    );
    await refused({ constructor: 1 }, /constructor: Extra inputs are not permitted/);
    await refused({ metadata: { user_id: 'u', session: 's' } }, /'metadata'.*session/);
    await refused({ stop_sequences: [''] }, /'stop_sequences\[0\]'/);
    // The same shape on count_tokens, and for what is refused before the route runs (bad JSON).
    const count = await fetch(`${gateway.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: [{ type: 'search_result' }] }] }),
    });
    assert.equal(count.status, 400);
    const countBody = (await count.json()) as { type: string; error: { type: string; message: string }; request_id: string };
    assert.equal(countBody.type, 'error');
    assert.match(countBody.error.message, /'search_result'/);
    assert.equal(countBody.request_id, count.headers.get('request-id'));
    const badJson = await fetch(`${gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN, 'content-type': 'application/json' },
      body: '{"model":',
    });
    assert.equal(badJson.status, 400);
    assert.equal(((await badJson.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    // A model that does not exist: the SDK's NotFoundError.
    await assert.rejects(client.messages.create({ model: 'missing', max_tokens: 4, messages: [ask('Hi')] }), Anthropic.NotFoundError);
  });

  test('the guard: x-api-key checked (401), a key without the model (403), per-key request and token limits (429 with Retry-After)', async () => {
    const create = (apiKey: string | null, body: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}) =>
      clientWith(apiKey).messages.create({ model: 'chat', max_tokens: 4, messages: [ask('Hi')], ...body });
    const anonymous = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { type: string } }).error.type, 'authentication_error');
    await assert.rejects(create('sk-wrong'), Anthropic.AuthenticationError);
    await assert.rejects(create('sk-other-1111'), (error: unknown) => {
      assert.ok(error instanceof Anthropic.PermissionDeniedError);
      assert.equal((error.error as { error: { type: string } }).error.type, 'permission_error');
      return true;
    });
    await create('sk-once-2222');
    await assert.rejects(create('sk-once-2222'), (error: unknown) => {
      assert.ok(error instanceof Anthropic.RateLimitError);
      assert.equal((error.error as { error: { type: string } }).error.type, 'rate_limit_error');
      assert.ok(Number(error.headers?.get('retry-after')) >= 1);
      return true;
    });
    // The reservation holds max_tokens: more than the key's minute allows is refused before any work.
    await assert.rejects(create('sk-tokens-3333', { max_tokens: 200 }), Anthropic.RateLimitError);
  });

  test('a full queue is the SDK RateLimitError; a prompt beyond the context is a 400', async () => {
    // The thinking fixture never ends its thought by itself: each request runs to max_tokens.
    const long = () => client.messages.create({ model: 'think', max_tokens: 150, messages: [ask('A long story')] });
    const scheduler = gateway.gateway.registry.find('think')!.scheduler!;
    const until = async (condition: () => boolean) => {
      const started = performance.now();
      while (!condition() && performance.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    // One running, one waiting (max_queue = 1): the third is refused.
    const running = [long()];
    await until(() => scheduler.activeCount === 1);
    running.push(long());
    await until(() => scheduler.queueDepth === 1);
    await assert.rejects(long(), (error: unknown) => {
      assert.ok(error instanceof Anthropic.RateLimitError);
      assert.ok(Number(error.headers?.get('retry-after')) >= 1);
      return true;
    });
    await Promise.all(running);
    await assert.rejects(client.messages.create({ model: 'chat', max_tokens: 4, messages: [ask('word '.repeat(400))] }), (error: unknown) => {
      assert.ok(error instanceof Anthropic.BadRequestError);
      assert.match(error.message, /maximum context length is 256 tokens/);
      return true;
    });
  });

  test('a streaming client that disconnects stops its generation; the access log and /metrics show the route', async () => {
    const scheduler = gateway.gateway.registry.find('think')!.scheduler!;
    const { port } = new URL(gateway.url);
    const requestId = `messages-disconnect-${Date.now()}`;
    let deltas = 0;
    await new Promise<void>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/messages',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': ADMIN, 'x-request-id': requestId },
        },
        (response) => {
          response.on('data', (chunk: Buffer) => {
            deltas += (chunk.toString().match(/"thinking_delta"/g) ?? []).length;
            if (deltas >= 5) {
              request.destroy();
              resolve();
            }
          });
          response.on('error', () => undefined);
        },
      );
      request.on('error', () => undefined);
      request.end(JSON.stringify({ model: 'think', messages: [ask('A long story')], max_tokens: 200, temperature: 1, stream: true }));
      setTimeout(() => reject(new Error('no thinking deltas')), 20_000).unref();
    });
    const started = performance.now();
    let line: Record<string, unknown> | undefined;
    while ((!line || scheduler.activeCount > 0) && performance.now() - started < 5_000) {
      line = gateway.logs.find((record) => record.msg === 'request' && record.requestId === requestId);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(scheduler.activeCount, 0, 'the sequence was released');
    assert.equal(line?.status, 499);
    assert.equal(line?.path, '/v1/messages');
    assert.ok(Number(line?.completionTokens) < 200, `generated ${String(line?.completionTokens)}`);
    const metrics = await (await fetch(`${gateway.url}/metrics`, { headers: { 'x-api-key': ADMIN } })).text();
    assert.match(metrics, /switchyard_requests_total\{route="\/v1\/messages",model="think",status="499"\}/);
  });

  test('thinking: streamed as thinking_delta before the text; budget_tokens is the exact thought budget; disabled leaves it out', async () => {
    const request = { model: 'think', max_tokens: 24, temperature: 0, messages: [ask('Tell me a story.')] };
    const stream = client.messages.stream({ ...request, thinking: { type: 'enabled', budget_tokens: THOUGHT_BUDGET } });
    const order: string[] = [];
    stream.on('thinking', () => order.push('thinking'));
    stream.on('text', () => order.push('text'));
    const final = await stream.finalMessage();
    assert.equal(final.content[0].type, 'thinking');
    const thought = (final.content[0] as Anthropic.ThinkingBlock).thinking;
    assert.ok(thought.length > 0);
    assert.equal(order[0], 'thinking');
    assert.ok(order.includes('text') && order.lastIndexOf('thinking') < order.indexOf('text'), 'the thought, then the answer');
    assert.equal(final.content.at(-1)?.type, 'text');
    // The same thought as the model whose max_thinking_tokens is that budget, through chat completions.
    const chat = (await (
      await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...request, model: 'think-budget' }),
      })
    ).json()) as { choices: Array<{ message: { reasoning_content?: string } }> };
    assert.equal(thought, chat.choices[0].message.reasoning_content);
    const plain = await client.messages.create({ ...request, thinking: { type: 'disabled' } });
    assert.ok(plain.content.every((block) => block.type === 'text'));
  });
});
