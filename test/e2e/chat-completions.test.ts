// Chat and text completions end to end: the real in-process llama.cpp engine on the shared models
// (named: a .gguf chat model gets llama-server by default; test/conformance runs both engines), the
// official openai SDK as the client, a listening gateway on loopback.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ChatMLChatWrapper } from 'node-llama-cpp';
import OpenAI from 'openai';
import { billedUsage } from '../conformance/generation-checks.js';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

const CONFIG = `
[api.models.chatml]
path = "${models.storiesChatml}"
type = "chat"
backend = "llama"
context_length = 2048
threads = 2
parallel = 4
aliases = ["gpt-4o-mini"]

[api.models.llama2-chat]
path = "${models.stories}"
type = "chat"
backend = "llama"
context_length = 2048
threads = 2
parallel = 1
max_queue = 1
queue_timeout = 60

[api.models.pair]
path = "${models.stories}"
type = "completion"
backend = "llama"
context_length = 2048
threads = 2
parallel = 2
max_slots_per_request = 2
max_queue = 0

[api.models.stories]
path = "${models.stories}"
type = "completion"
backend = "llama"
context_length = 256
threads = 2
parallel = 2

[api.models.random32k]
path = "${models.tinyRandomLlama}"
type = "completion"
backend = "llama"
context_length = 512
threads = 2
parallel = 1

[api.models.embed]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1
`;

const user = (content: string): OpenAI.Chat.ChatCompletionMessageParam => ({ role: 'user', content });

describe('chat and text completions on llama.cpp', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  before(async () => {
    gateway = await startTestGateway(CONFIG);
    client = gateway.client;
    for (const entry of gateway.gateway.registry.list()) assert.equal(entry.status, 'ready', `${entry.id}: ${entry.reason ?? ''}`);
  });
  after(() => gateway.close());

  test('a non-streaming chat completion has OpenAI shape and exact usage', async () => {
    const completion = await client.chat.completions.create({ model: 'chatml', messages: [user('Tell me a story.')], max_tokens: 24, temperature: 0 });
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'chatml');
    assert.equal(completion.choices.length, 1);
    const [choice] = completion.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, 'assistant');
    assert.ok(choice.message.content && choice.message.content.length > 0);
    assert.ok(['stop', 'length'].includes(choice.finish_reason));
    const usage = completion.usage!;
    assert.ok(usage.prompt_tokens > 0);
    assert.ok(usage.completion_tokens > 0 && usage.completion_tokens <= 24);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  });

  test('max_tokens ends with finish_reason "length" and exactly that many tokens', async () => {
    const completion = await client.chat.completions.create({ model: 'chatml', messages: [user('Once upon a time')], max_tokens: 5, temperature: 0 });
    assert.equal(completion.choices[0].finish_reason, 'length');
    assert.equal(completion.usage!.completion_tokens, 5);
    const modern = await client.chat.completions.create({ model: 'chatml', messages: [user('Once upon a time')], max_completion_tokens: 3, temperature: 0 });
    assert.equal(modern.usage!.completion_tokens, 3);
  });

  test('streaming: role chunk, content deltas, finish chunk, usage chunk, same text as non-streaming', async () => {
    const request = { model: 'chatml', messages: [user('Tell me about a cat.')], max_tokens: 20, temperature: 0 };
    const whole = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const finish = chunks.at(-2)!;
    assert.equal(finish.choices[0].finish_reason, whole.choices[0].finish_reason);
    const usageChunk = chunks.at(-1)!;
    assert.deepEqual(usageChunk.choices, []);
    // The same charge; the stream repeats the prompt, so it finds it cached where the first did not.
    assert.deepEqual(billedUsage(usageChunk.usage), billedUsage(whole.usage));
    assert.ok(usageChunk.usage!.prompt_tokens_details!.cached_tokens! > 0, 'the repeated prompt was cached');
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, whole.choices[0].message.content);
    assert.ok(chunks.length >= 4, 'content arrives in several chunks');
    for (const chunk of chunks) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.id, chunks[0].id);
    }
  });

  test('the raw stream ends with data: [DONE] and disables proxy buffering', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chatml', messages: [user('Hi')], max_tokens: 4, stream: true }),
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(response.headers.get('x-accel-buffering'), 'no');
    const text = await response.text();
    assert.ok(text.endsWith('data: [DONE]\n\n'));
    assert.doesNotMatch(text, /"usage"/, 'no usage without include_usage');
  });

  test('the same seed gives the same output', async () => {
    const request = { model: 'chatml', messages: [user('Tell me a story.')], max_tokens: 24, temperature: 1, seed: 42 };
    const first = await client.chat.completions.create(request);
    const second = await client.chat.completions.create(request);
    assert.equal(first.choices[0].message.content, second.choices[0].message.content);
  });

  test('stop strings end the output before the stop string', async () => {
    const free = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 40, temperature: 0 });
    const text = free.choices[0].text;
    const cut = text.indexOf(' ', 8);
    assert.ok(cut > 0, `need a space in ${JSON.stringify(text)}`);
    const stop = text.slice(cut, cut + 4);
    const stopped = await client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 40, temperature: 0, stop: [stop, 'zzzz'] });
    assert.equal(stopped.choices[0].text, text.slice(0, text.indexOf(stop)));
    assert.equal(stopped.choices[0].finish_reason, 'stop');
  });

  test('response_format json_schema: the output parses and matches the schema', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer' } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const completion = await client.chat.completions.create({
      model: 'chatml',
      messages: [user('Give me a person.')],
      max_tokens: 200,
      temperature: 0.5,
      seed: 1,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
    });
    const parsed = JSON.parse(completion.choices[0].message.content!) as { name: unknown; age: unknown };
    assert.deepEqual(Object.keys(parsed).sort(), ['age', 'name']);
    assert.equal(typeof parsed.name, 'string');
    assert.ok(Number.isInteger(parsed.age));
  });

  test('response_format json_object constrains the output to a JSON object', async () => {
    // This tiny model fills JSON strings with story text, so 60 tokens end mid-string: the
    // output is checked as a JSON object's prefix (the json_schema test above checks a full parse).
    const completion = await client.chat.completions.create({
      model: 'chatml',
      messages: [user('JSON please')],
      max_tokens: 60,
      temperature: 0,
      response_format: { type: 'json_object' },
    });
    const content = completion.choices[0].message.content!;
    assert.match(content, /^\s*\{\s*"/);
    if (completion.choices[0].finish_reason === 'stop') assert.equal(typeof JSON.parse(content), 'object');
  });

  test('a GBNF grammar constrains the output', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chatml', messages: [user('yes or no?')], max_tokens: 10, grammar: 'root ::= "yes" | "no"' }),
    });
    const body = (await response.json()) as OpenAI.Chat.ChatCompletion;
    assert.ok(['yes', 'no'].includes(body.choices[0].message.content!), body.choices[0].message.content!);
  });

  test('n = 2 gives two choices; model may be an alias', async () => {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [user('Hi')], max_tokens: 4, n: 2, seed: 3 });
    assert.deepEqual(
      completion.choices.map((choice) => choice.index),
      [0, 1],
    );
    assert.equal(completion.model, 'chatml');
  });

  test('a model without a chat template (Llama 2 wrapper) chats', async () => {
    const completion = await client.chat.completions.create({
      model: 'llama2-chat',
      messages: [{ role: 'system', content: 'You tell stories.' }, user('A story?')],
      max_tokens: 8,
    });
    assert.ok(completion.choices[0].message.content!.length > 0);
  });

  test('text parts are joined; a non-text part is a 400 naming it', async () => {
    const ok = await client.chat.completions.create({
      model: 'chatml',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hello' },
            { type: 'text', text: ' there' },
          ],
        },
      ],
      max_tokens: 3,
    });
    assert.equal(ok.choices.length, 1);
    await assert.rejects(
      client.chat.completions.create({
        model: 'chatml',
        messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }] }],
        max_tokens: 3,
      }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'messages[0].content[0].type' && /input_audio/.test(error.message),
    );
    // Image parts are checked on the wire, then refused by a model that takes no images (test/e2e/image-input.test.ts).
    await assert.rejects(
      client.chat.completions.create({
        model: 'chatml',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }],
        max_tokens: 3,
      }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'messages[0].content[0].image_url.url',
    );
  });

  test('context overflow is the SDK BadRequestError with context_length_exceeded and both numbers', async () => {
    await assert.rejects(client.completions.create({ model: 'stories', prompt: 'Once upon a time', max_tokens: 1000 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.equal(error.code, 'context_length_exceeded');
      assert.match(error.message, /maximum context length is 256 tokens/);
      assert.match(error.message, /1000 for the completion/);
      return true;
    });
  });

  test('bad parameters are 400s naming the parameter', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ temperature: 3 }, 'temperature'],
      [{ max_tokens: -1 }, 'max_tokens'],
      [{ n: 0 }, 'n'],
      [{ stop: 5 }, 'stop'],
      [{ top_logprobs: 2 }, 'top_logprobs'],
      [{ response_format: { type: 'xml' } }, 'response_format.type'],
      [{ logit_bias: { abc: 1 } }, 'logit_bias.abc'],
      [{ messages: [] }, 'messages'],
      [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
      [{ tools: [{ type: 'function', function: { name: 'f f' } }] }, 'tools[0].function.name'],
      [{ grammar: 'root ::= ', response_format: { type: 'json_object' } }, 'grammar'],
    ];
    for (const [patch, param] of cases) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chatml', messages: [user('Hi')], max_tokens: 2, ...patch }),
      });
      const body = (await response.json()) as { error: { param: string; type: string } };
      assert.equal(response.status, 400, `${JSON.stringify(patch)} → ${JSON.stringify(body)}`);
      assert.equal(body.error.param, param, JSON.stringify(body));
    }
  });

  test('model may be omitted only when one model can serve the endpoint', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [user('Hi')] }),
    });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /configured: chatml, llama2-chat/);
  });

  test('a completion model refuses chat with a 400 naming its type', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'stories', messages: [user('Hi')] }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /is a completion model/.test(error.message),
    );
  });

  test('text completions: several prompts in order, echo, streaming, 32k vocabulary', async () => {
    const completion = await client.completions.create({ model: 'stories', prompt: ['Once upon a time', 'The cat'], max_tokens: 6, temperature: 0 });
    assert.equal(completion.object, 'text_completion');
    assert.deepEqual(
      completion.choices.map((choice) => choice.index),
      [0, 1],
    );
    const single = await client.completions.create({ model: 'stories', prompt: 'The cat', max_tokens: 6, temperature: 0 });
    assert.equal(completion.choices[1].text, single.choices[0].text);
    const echoed = await client.completions.create({ model: 'stories', prompt: 'The cat', max_tokens: 6, temperature: 0, echo: true });
    assert.equal(echoed.choices[0].text, `The cat${single.choices[0].text}`);
    const stream = await client.completions.create({ model: 'stories', prompt: 'The cat', max_tokens: 6, temperature: 0, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
    assert.equal(streamed, single.choices[0].text);
    const random = await client.completions.create({ model: 'random32k', prompt: 'Hello', max_tokens: 8, temperature: 0 });
    assert.equal(random.usage!.completion_tokens, 8);
  });

  test('suffix on a model without fill-in-the-middle is a 400', async () => {
    await assert.rejects(
      client.completions.create({ model: 'stories', prompt: 'Once', suffix: 'end', max_tokens: 4 }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'suffix',
    );
  });

  test('an embedding model on the chat endpoint is a 400 naming its type', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'embed', messages: [user('Hi')] }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /is an embedding model/.test(error.message),
    );
  });

  test('four concurrent streams all progress at once', async () => {
    assert.equal(gateway.gateway.registry.find('chatml')!.scheduler!.activeCount, 0, 'every earlier request released its sequence');
    const firstChunkAt: number[] = [];
    const finishedAt: number[] = [];
    await Promise.all(
      [0, 1, 2, 3].map(async (index) => {
        const stream = await client.chat.completions.create({
          model: 'chatml',
          messages: [user(`Story number ${index}`)],
          max_tokens: 60,
          temperature: 0.8,
          seed: index,
          stream: true,
        });
        let first = true;
        for await (const chunk of stream) {
          if (first && chunk.choices[0]?.delta.content) {
            firstChunkAt[index] = performance.now();
            first = false;
          }
        }
        finishedAt[index] = performance.now();
      }),
    );
    // Every stream produced text before any stream finished: they shared the engine, not a queue.
    assert.ok(Math.max(...firstChunkAt) < Math.min(...finishedAt), `first chunks ${firstChunkAt} vs finishes ${finishedAt}`);
  });

  test('a client that disconnects stops its generation within a token or two and frees its sequence', async () => {
    const entry = gateway.gateway.registry.find('llama2-chat')!;
    const scheduler = entry.scheduler!;
    const { port } = new URL(gateway.url);
    const requestId = `disconnect-${Date.now()}`;
    let deltasReceived = 0;
    await new Promise<void>((resolve, reject) => {
      const request = http.request(
        { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId } },
        (response) => {
          response.on('data', (chunk: Buffer) => {
            deltasReceived += (chunk.toString().match(/"content":"[^"]/g) ?? []).length;
            if (deltasReceived >= 5) {
              // Destroy the socket mid-stream, as a client that goes away does.
              request.destroy();
              resolve();
            }
          });
          response.on('error', () => undefined);
        },
      );
      request.on('error', () => undefined);
      request.end(JSON.stringify({ model: 'llama2-chat', messages: [user('A long story')], max_tokens: 1500, temperature: 0.8, stream: true }));
      setTimeout(() => reject(new Error('no chunks')), 20_000).unref();
    });
    const started = performance.now();
    while (scheduler.activeCount > 0 && performance.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(scheduler.activeCount, 0, 'the sequence was released');
    let line: Record<string, unknown> | undefined;
    while (!line && performance.now() - started < 5_000) {
      line = gateway.logs.find((record) => record.msg === 'request' && record.requestId === requestId);
      if (!line) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(line?.status, 499, 'logged as a client that left');
    // Tokens generated after the client left: what the engine made beyond what had been sent.
    const generated = Number(line?.completionTokens);
    assert.ok(generated < 1500, 'the generation stopped early');
    assert.ok(generated - deltasReceived <= 8, `generated ${generated} tokens, the client had received ${deltasReceived}`);
    const after = await client.chat.completions.create({ model: 'llama2-chat', messages: [user('Hi')], max_tokens: 2 });
    assert.equal(after.choices.length, 1);
  });

  test('a non-streaming client that disconnects stops its generation too', async () => {
    const scheduler = gateway.gateway.registry.find('llama2-chat')!.scheduler!;
    const { port } = new URL(gateway.url);
    const requestId = `disconnect-plain-${Date.now()}`;
    const request = http.request({
      host: '127.0.0.1',
      port,
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    });
    request.on('error', () => undefined);
    request.end(JSON.stringify({ model: 'llama2-chat', messages: [user('A long story')], max_tokens: 1500, temperature: 0.8 }));
    while (scheduler.activeCount === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 150));
    request.destroy();
    const started = performance.now();
    let line: Record<string, unknown> | undefined;
    while (!line && performance.now() - started < 5_000) {
      line = gateway.logs.find((record) => record.msg === 'request' && record.requestId === requestId);
      if (!line) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(scheduler.activeCount, 0);
    assert.equal(line?.status, 499);
    assert.ok(Number(line?.completionTokens) < 1500, `generated ${String(line?.completionTokens)}`);
  });

  test('a request is admitted once: its n choices never take queue places of their own', async () => {
    // n = 4 on one slot with max_queue = 1: the choices take turns on the request's slot.
    const alone = await client.chat.completions.create({ model: 'llama2-chat', messages: [user('Hi')], max_tokens: 3, n: 4, temperature: 0.7, seed: 1 });
    assert.deepEqual(
      alone.choices.map((choice) => choice.index),
      [0, 1, 2, 3],
    );
    // Two slots, one busy, no queue: the request is admitted on the free slot and runs both choices
    // there. Before, its second choice asked the full queue for a place and the request got a 429.
    const scheduler = () => gateway.gateway.registry.list().find((entry) => entry.id === 'pair')?.scheduler;
    const busy = new AbortController();
    const long = client.completions
      .create({ model: 'pair', prompt: 'Once upon a time', max_tokens: 1800, temperature: 1 }, { signal: busy.signal })
      .catch(() => undefined);
    const started = performance.now();
    while ((scheduler()?.activeCount ?? 0) < 1 && performance.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 5));
    try {
      const completion = await client.completions.create({ model: 'pair', prompt: 'Once', max_tokens: 3, n: 2 });
      assert.deepEqual(
        completion.choices.map((choice) => choice.index),
        [0, 1],
      );
    } finally {
      busy.abort();
      await long;
    }
  });

  test('a chat request renders its template once (the count and the run share one rendering)', async () => {
    const prototype = ChatMLChatWrapper.prototype;
    const original = prototype.generateContextState;
    let renders = 0;
    prototype.generateContextState = function (this: ChatMLChatWrapper, ...args: Parameters<typeof original>) {
      renders++;
      return original.apply(this, args);
    };
    try {
      await client.chat.completions.create({ model: 'chatml', messages: [user('Tell me a story.')], max_tokens: 2, n: 2 });
    } finally {
      prototype.generateContextState = original;
    }
    assert.equal(renders, 1);
  });

  test('a full queue is the SDK RateLimitError with Retry-After', async () => {
    // llama2-chat has one sequence and max_queue = 1: a third concurrent request is refused.
    const long = () => client.chat.completions.create({ model: 'llama2-chat', messages: [user('A long story')], max_tokens: 200 });
    const running = [long(), long()];
    await new Promise((resolve) => setTimeout(resolve, 50));
    await assert.rejects(long(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'queue_full');
      assert.ok(Number(error.headers?.get('retry-after')) >= 1);
      return true;
    });
    await Promise.all(running);
  });
});
