// What every backend serving /v1/chat/completions must do, checked through the HTTP API with the
// official SDK. A feature some engines lack is a flag of the target: without it the test is
// reported as skipped, with the reason.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe } from 'node:test';
import OpenAI from 'openai';
import { checksFor, serveDuringSuite, type ConformanceTarget } from './conformance-target.js';
import { assertCreated, assertUsage, billedUsage, collect, finishOf } from './generation-checks.js';
import { assertBadRequest, postJson } from './openai-responses.js';

export interface ChatFeatures {
  /** Tokens of context per sequence: a prompt plus max_tokens beyond it must be refused. */
  contextLength: number;
  /** `n` > 1 choices. */
  n: boolean;
  /** The same seed gives the same output at a temperature above 0. */
  seed: boolean;
  /** `stop` strings. */
  stop: boolean;
  /** `response_format` of type json_schema, enforced. */
  jsonSchema: boolean;
  /** `logprobs` and `top_logprobs`. */
  logprobs: boolean;
}

type Chunk = OpenAI.Chat.ChatCompletionChunk;

const user = (content: string): OpenAI.Chat.ChatCompletionMessageParam => ({ role: 'user', content });

function textOf(chunks: Chunk[], index = 0): string {
  return chunks.map((chunk) => chunk.choices.find((choice) => choice.index === index)?.delta.content ?? '').join('');
}

export function chatConformance(target: ConformanceTarget<ChatFeatures>): void {
  const { features } = target;
  describe(`chat conformance: ${target.name}`, () => {
    const { check, verifyKnownFailures } = checksFor(target);
    const served = serveDuringSuite(target);

    check('a non-streaming completion has OpenAI shape, a finish reason and consistent usage', async () => {
      const completion = await served.client.chat.completions.create({
        model: served.model,
        messages: [user('Tell me a story.')],
        max_tokens: 12,
        temperature: 0,
      });
      assert.match(completion.id, /^chatcmpl-/);
      assert.equal(completion.object, 'chat.completion');
      assertCreated(completion.created);
      assert.equal(completion.model, served.model);
      assert.equal(completion.choices.length, 1);
      const [choice] = completion.choices;
      assert.equal(choice.index, 0);
      assert.equal(choice.message.role, 'assistant');
      assert.equal(typeof choice.message.content, 'string');
      assert.ok(choice.message.content!.length > 0);
      assert.ok(['stop', 'length'].includes(choice.finish_reason), choice.finish_reason);
      assertUsage(completion.usage, 12);
    });

    check('streaming gives the same text, finish reason and usage as non-streaming, in chunks of OpenAI shape', async () => {
      const request = { model: served.model, messages: [user('Tell me about a cat.')], max_tokens: 12, temperature: 0 };
      const whole = await served.client.chat.completions.create(request);
      const chunks = await collect(await served.client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
      assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
      for (const chunk of chunks) {
        assert.match(chunk.id, /^chatcmpl-/);
        assert.equal(chunk.id, chunks[0].id, 'one id for the whole stream');
        assert.equal(chunk.object, 'chat.completion.chunk');
        assertCreated(chunk.created);
        assert.equal(chunk.model, served.model);
      }
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      assert.equal(textOf(chunks), whole.choices[0].message.content);
      assert.equal(finishOf(chunks), whole.choices[0].finish_reason);
      const usageChunk = chunks.at(-1)!;
      assert.deepEqual(usageChunk.choices, [], 'the usage chunk has no choices');
      // The same charge; the stream repeats the prompt, so its cache breakdown may differ.
      assert.deepEqual(billedUsage(usageChunk.usage), billedUsage(whole.usage));
      assert.ok(
        chunks.slice(0, -1).every((chunk) => !chunk.usage),
        'only the last chunk carries usage',
      );

      const withoutUsage = await collect(await served.client.chat.completions.create({ ...request, stream: true }));
      assert.ok(
        withoutUsage.every((chunk) => !chunk.usage),
        'no usage unless include_usage',
      );
      assert.equal(textOf(withoutUsage), whole.choices[0].message.content);
    });

    check('max_tokens ends the output with finish_reason "length" after exactly that many tokens, streaming or not', async () => {
      const request = { model: served.model, messages: [user('Once upon a time')], max_tokens: 5, temperature: 0 };
      const whole = await served.client.chat.completions.create(request);
      assert.equal(whole.choices[0].finish_reason, 'length');
      assert.equal(whole.usage!.completion_tokens, 5);
      const chunks = await collect(await served.client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
      assert.equal(finishOf(chunks), 'length');
      assert.equal(chunks.at(-1)!.usage!.completion_tokens, 5);
      const modern = await served.client.chat.completions.create({
        model: served.model,
        messages: [user('Once upon a time')],
        max_completion_tokens: 3,
        temperature: 0,
      });
      assert.equal(modern.usage!.completion_tokens, 3);
    });

    check('n choices have distinct indexes, each with its message and finish reason, streaming or not', { feature: 'n', has: features.n }, async () => {
      const request = { model: served.model, messages: [user('Hi')], max_tokens: 4, temperature: 1, seed: 5, n: 2 };
      const whole = await served.client.chat.completions.create(request);
      assert.deepEqual(
        whole.choices.map((choice) => choice.index),
        [0, 1],
      );
      for (const choice of whole.choices) {
        assert.equal(choice.message.role, 'assistant');
        assert.ok(['stop', 'length'].includes(choice.finish_reason));
      }
      const usage = assertUsage(whole.usage, 8);
      if (whole.choices.every((choice) => choice.finish_reason === 'length')) assert.equal(usage.completion_tokens, 8, 'usage counts every choice');
      const chunks = await collect(await served.client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
      for (const index of [0, 1]) {
        assert.ok(finishOf(chunks, index), `choice ${index} finishes in the stream`);
        assert.equal(textOf(chunks, index), whole.choices[index].message.content, `choice ${index}: the same seed, the same text`);
      }
      assert.deepEqual(billedUsage(chunks.at(-1)!.usage), billedUsage(whole.usage));
    });

    check('the same seed gives the same output at temperature 1', { feature: 'seed', has: features.seed }, async () => {
      const request = { model: served.model, messages: [user('Tell me a story.')], max_tokens: 16, temperature: 1, seed: 42 };
      const first = await served.client.chat.completions.create(request);
      const second = await served.client.chat.completions.create(request);
      assert.equal(second.choices[0].message.content, first.choices[0].message.content);
      const streamed = await collect(await served.client.chat.completions.create({ ...request, stream: true }));
      assert.equal(textOf(streamed), first.choices[0].message.content);
    });

    check('a stop string ends the output before it, with finish_reason "stop", streaming or not', { feature: 'stop', has: features.stop }, async () => {
      const request = { model: served.model, messages: [user('Tell me a story.')], max_tokens: 24, temperature: 0 };
      const free = (await served.client.chat.completions.create(request)).choices[0].message.content!;
      const cut = free.indexOf(' ', 6);
      assert.ok(cut > 0, `need a space after the sixth character of ${JSON.stringify(free)}`);
      const stop = free.slice(cut, cut + 3);
      const expected = free.slice(0, free.indexOf(stop));
      const stopped = await served.client.chat.completions.create({ ...request, stop: [stop, 'zzzz'] });
      assert.equal(stopped.choices[0].message.content, expected);
      assert.equal(stopped.choices[0].finish_reason, 'stop');
      const chunks = await collect(await served.client.chat.completions.create({ ...request, stop, stream: true }));
      assert.equal(textOf(chunks), expected);
      assert.equal(finishOf(chunks), 'stop');
    });

    check('response_format json_schema: the output parses and matches the schema', { feature: 'json_schema', has: features.jsonSchema }, async () => {
      const schema = {
        type: 'object',
        properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' } },
        required: ['name', 'age'],
        additionalProperties: false,
      };
      const completion = await served.client.chat.completions.create({
        model: served.model,
        messages: [user('Give me a person.')],
        max_tokens: 200,
        temperature: 0.5,
        seed: 1,
        response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
      });
      const content = completion.choices[0].message.content!;
      const parsed = JSON.parse(content) as { name: unknown; age: unknown };
      assert.deepEqual(Object.keys(parsed).sort(), ['age', 'name'], content);
      assert.equal(typeof parsed.name, 'string');
      assert.ok(Number.isInteger(parsed.age), content);
    });

    check(
      'logprobs: one entry per completion token, top_logprobs as many as asked, the same streamed',
      { feature: 'logprobs', has: features.logprobs },
      async () => {
        const request = { model: served.model, messages: [user('Tell me a story.')], max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 2 };
        const whole = await served.client.chat.completions.create(request);
        const entries = whole.choices[0].logprobs?.content;
        assert.ok(Array.isArray(entries), JSON.stringify(whole.choices[0].logprobs));
        assert.equal(entries.length, whole.usage!.completion_tokens);
        assert.equal(entries.map((entry) => entry.token).join(''), whole.choices[0].message.content);
        for (const entry of entries) {
          assert.equal(typeof entry.token, 'string');
          assert.ok(Number.isFinite(entry.logprob) && entry.logprob <= 0, `logprob ${entry.logprob}`);
          assert.equal(entry.top_logprobs.length, 2);
          assert.ok(entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob, 'top_logprobs best first');
          // At temperature 0 the chosen token is the most likely one.
          assert.equal(entry.top_logprobs[0].token, entry.token);
        }
        const chunks = await collect(await served.client.chat.completions.create({ ...request, stream: true }));
        const streamed = chunks.flatMap((chunk) => chunk.choices[0]?.logprobs?.content ?? []);
        assert.deepEqual(
          streamed.map((entry) => entry.token),
          entries.map((entry) => entry.token),
        );
        const unasked = await served.client.chat.completions.create({ model: served.model, messages: [user('Hi')], max_tokens: 2 });
        assert.ok(!unasked.choices[0].logprobs, 'no logprobs unless asked');
      },
    );

    check('a client that disconnects mid-stream leaves the model serving the next requests', async () => {
      const { port } = new URL(served.url);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no content chunk within 20 s')), 20_000);
        const request = http.request(
          { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' } },
          (response) => {
            response.on('data', (data: Buffer) => {
              if (!/"content":"[^"]/.test(data.toString())) return;
              clearTimeout(timer);
              request.destroy();
              resolve();
            });
            response.on('error', () => undefined);
          },
        );
        request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
        request.end(JSON.stringify({ model: served.model, messages: [user('Tell me a very long story.')], max_tokens: 400, temperature: 1, stream: true }));
      });
      const next = await served.client.chat.completions.create({ model: served.model, messages: [user('Hi')], max_tokens: 3, temperature: 0 });
      assert.equal(next.usage!.completion_tokens, 3);
      const streamed = await collect(
        await served.client.chat.completions.create({ model: served.model, messages: [user('Hi')], max_tokens: 3, temperature: 0, stream: true }),
      );
      assert.equal(textOf(streamed), next.choices[0].message.content);
    });

    check('a prompt plus max_tokens beyond the context is a 400 context_length_exceeded', async () => {
      const maxTokens = features.contextLength + 10;
      await assert.rejects(served.client.chat.completions.create({ model: served.model, messages: [user('Hi')], max_tokens: maxTokens }), (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError, String(error));
        assert.equal(error.code, 'context_length_exceeded');
        assert.match(error.message, new RegExp(String(features.contextLength)));
        return true;
      });
    });

    check('a stream whose prompt plus max_tokens is beyond the context is a 400 too, before any chunk', async () => {
      const stream = await postJson(served, '/v1/chat/completions', {
        model: served.model,
        messages: [user('Hi')],
        max_tokens: features.contextLength + 10,
        stream: true,
      });
      assertBadRequest(stream, { code: 'context_length_exceeded' });
    });

    check('a parameter value the API does not know is a 400 naming it, in the OpenAI envelope', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ response_format: { type: 'xml' } }, 'response_format.type'],
        [{ messages: [{ role: 'wizard', content: 'Hi' }] }, 'messages[0].role'],
        [{ temperature: 3 }, 'temperature'],
      ];
      for (const [patch, param] of cases) {
        for (const stream of [false, true]) {
          assertBadRequest(await postJson(served, '/v1/chat/completions', { model: served.model, messages: [user('Hi')], max_tokens: 2, stream, ...patch }), {
            param,
          });
        }
      }
    });

    check('the model on an endpoint of another type is a 400 model_type_mismatch', async () => {
      assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input: 'Hi' }), { param: 'model', code: 'model_type_mismatch' });
      assertBadRequest(await postJson(served, '/v1/rerank', { model: served.model, query: 'Hi', documents: ['a'] }), {
        param: 'model',
        code: 'model_type_mismatch',
      });
    });

    verifyKnownFailures();
  });
}
