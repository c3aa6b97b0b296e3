// What every backend serving /v1/completions must do, checked through the HTTP API with the
// official SDK. A feature some engines lack is a flag of the target: without it the test is
// reported as skipped, with the reason.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import OpenAI from 'openai';
import { checksFor, serveDuringSuite, type ConformanceTarget } from './conformance-target.js';
import { assertCreated, assertUsage, billedUsage, collect, finishOf } from './generation-checks.js';
import { assertBadRequest, postJson } from './openai-responses.js';

export interface CompletionFeatures {
  /** Tokens of context per sequence: a prompt plus max_tokens beyond it must be refused. */
  contextLength: number;
  /** `stop` strings. */
  stop: boolean;
  /** `echo`: the prompt before the completion. */
  echo: boolean;
  /** `suffix` (fill-in-the-middle); without it a suffix must be a 400 naming it. */
  fillInTheMiddle: boolean;
}

type Chunk = OpenAI.Completions.Completion;

function textOf(chunks: Chunk[], index = 0): string {
  return chunks.map((chunk) => chunk.choices.find((choice) => choice.index === index)?.text ?? '').join('');
}

/** Registers the suite for a model of type completion (a chat model serves both endpoints). */
export function completionConformance(target: ConformanceTarget<CompletionFeatures>): void {
  const { features } = target;
  describe(`completion conformance: ${target.name}`, () => {
    const { check, verifyKnownFailures } = checksFor(target);
    const served = serveDuringSuite(target);

    check('a completion has OpenAI shape, a finish reason and consistent usage', async () => {
      const completion = await served.client.completions.create({ model: served.model, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 });
      assert.match(completion.id, /^cmpl-/);
      assert.equal(completion.object, 'text_completion');
      assertCreated(completion.created);
      assert.equal(completion.model, served.model);
      assert.equal(completion.choices.length, 1);
      const [choice] = completion.choices;
      assert.equal(choice.index, 0);
      assert.equal(typeof choice.text, 'string');
      assert.ok(choice.text.length > 0);
      assert.ok(['stop', 'length'].includes(choice.finish_reason), choice.finish_reason);
      assertUsage(completion.usage, 12);
    });

    check('an array of prompts gives one choice per prompt, in order, each as if sent alone', async () => {
      const prompts = ['Once upon a time', 'The cat', 'Lily went'];
      const together = await served.client.completions.create({ model: served.model, prompt: prompts, max_tokens: 6, temperature: 0 });
      assert.deepEqual(
        together.choices.map((choice) => choice.index),
        [0, 1, 2],
      );
      const alone = await Promise.all(
        prompts.map((prompt) => served.client.completions.create({ model: served.model, prompt, max_tokens: 6, temperature: 0 })),
      );
      alone.forEach((single, index) => assert.equal(together.choices[index].text, single.choices[0].text, `prompt ${index}`));
      const sum = (key: 'prompt_tokens' | 'completion_tokens') => alone.reduce((total, single) => total + single.usage![key], 0);
      assert.equal(together.usage!.prompt_tokens, sum('prompt_tokens'), 'prompt tokens of every prompt');
      assert.equal(together.usage!.completion_tokens, sum('completion_tokens'), 'completion tokens of every choice');
    });

    check('streaming gives the same text, finish reason and usage as non-streaming, in chunks of OpenAI shape', async () => {
      const request = { model: served.model, prompt: 'The dog', max_tokens: 12, temperature: 0 };
      const whole = await served.client.completions.create(request);
      const chunks = await collect(await served.client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
      assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
      for (const chunk of chunks) {
        assert.match(chunk.id, /^cmpl-/);
        assert.equal(chunk.id, chunks[0].id, 'one id for the whole stream');
        assert.equal(chunk.object, 'text_completion');
        assertCreated(chunk.created);
        assert.equal(chunk.model, served.model);
      }
      assert.equal(textOf(chunks), whole.choices[0].text);
      assert.equal(finishOf(chunks), whole.choices[0].finish_reason);
      const usageChunk = chunks.at(-1)!;
      assert.deepEqual(usageChunk.choices, [], 'the usage chunk has no choices');
      // The same charge; the stream repeats the prompt, so its cache breakdown may differ.
      assert.deepEqual(billedUsage(usageChunk.usage), billedUsage(whole.usage));
      const withoutUsage = await collect(await served.client.completions.create({ ...request, stream: true }));
      assert.ok(
        withoutUsage.every((chunk) => !chunk.usage),
        'no usage unless include_usage',
      );
      assert.equal(textOf(withoutUsage), whole.choices[0].text);
    });

    check('max_tokens ends the output with finish_reason "length" after exactly that many tokens, streaming or not', async () => {
      const request = { model: served.model, prompt: 'Once upon a time', max_tokens: 5, temperature: 0 };
      const whole = await served.client.completions.create(request);
      assert.equal(whole.choices[0].finish_reason, 'length');
      assert.equal(whole.usage!.completion_tokens, 5);
      const chunks = await collect(await served.client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }));
      assert.equal(finishOf(chunks), 'length');
      assert.equal(chunks.at(-1)!.usage!.completion_tokens, 5);
    });

    check('a stop string ends the output before it, with finish_reason "stop", streaming or not', { feature: 'stop', has: features.stop }, async () => {
      const request = { model: served.model, prompt: 'Once upon a time', max_tokens: 24, temperature: 0 };
      const free = (await served.client.completions.create(request)).choices[0].text;
      const cut = free.indexOf(' ', 6);
      assert.ok(cut > 0, `need a space after the sixth character of ${JSON.stringify(free)}`);
      const stop = free.slice(cut, cut + 3);
      const expected = free.slice(0, free.indexOf(stop));
      const stopped = await served.client.completions.create({ ...request, stop: [stop, 'zzzz'] });
      assert.equal(stopped.choices[0].text, expected);
      assert.equal(stopped.choices[0].finish_reason, 'stop');
      const chunks = await collect(await served.client.completions.create({ ...request, stop, stream: true }));
      assert.equal(textOf(chunks), expected);
      assert.equal(finishOf(chunks), 'stop');
    });

    check('echo puts the prompt before the completion, streaming or not', { feature: 'echo', has: features.echo }, async () => {
      const request = { model: served.model, prompt: 'The cat', max_tokens: 6, temperature: 0 };
      const plain = await served.client.completions.create(request);
      const echoed = await served.client.completions.create({ ...request, echo: true });
      assert.equal(echoed.choices[0].text, `The cat${plain.choices[0].text}`);
      assert.deepEqual(billedUsage(echoed.usage), billedUsage(plain.usage), 'the echoed prompt is not counted as completion');
      const chunks = await collect(await served.client.completions.create({ ...request, echo: true, stream: true }));
      assert.equal(textOf(chunks), echoed.choices[0].text);
    });

    const suffixRequest = { prompt: 'Once upon a time', suffix: 'The end.', max_tokens: 4, temperature: 0 };
    if (features.fillInTheMiddle) {
      check('suffix fills in the middle', async () => {
        const completion = await served.client.completions.create({ ...suffixRequest, model: served.model });
        assert.equal(typeof completion.choices[0].text, 'string');
        assertUsage(completion.usage, 4);
      });
    } else {
      check('suffix on a model without fill-in-the-middle is a 400 naming it', async () => {
        assertBadRequest(await postJson(served, '/v1/completions', { ...suffixRequest, model: served.model }), { param: 'suffix' });
      });
      check('suffix on a model without fill-in-the-middle is a 400 naming it when streamed too, before any chunk', async () => {
        assertBadRequest(await postJson(served, '/v1/completions', { ...suffixRequest, model: served.model, stream: true }), { param: 'suffix' });
      });
    }

    check('a prompt plus max_tokens beyond the context is a 400 context_length_exceeded', async () => {
      await assert.rejects(
        served.client.completions.create({ model: served.model, prompt: 'Once upon a time', max_tokens: features.contextLength + 10 }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.BadRequestError, String(error));
          assert.equal(error.code, 'context_length_exceeded');
          assert.match(error.message, new RegExp(String(features.contextLength)));
          return true;
        },
      );
    });

    check('a stream whose prompt plus max_tokens is beyond the context is a 400 too, before any chunk', async () => {
      const stream = await postJson(served, '/v1/completions', {
        model: served.model,
        prompt: 'Once upon a time',
        max_tokens: features.contextLength + 10,
        stream: true,
      });
      assertBadRequest(stream, { code: 'context_length_exceeded' });
    });

    check('a parameter value the API does not know is a 400 naming it, in the OpenAI envelope', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ prompt: { text: 'Hi' } }, 'prompt'],
        [{ stop: 5 }, 'stop'],
        [{ temperature: 3 }, 'temperature'],
      ];
      for (const [patch, param] of cases) {
        for (const stream of [false, true]) {
          assertBadRequest(await postJson(served, '/v1/completions', { model: served.model, prompt: 'Hi', max_tokens: 2, stream, ...patch }), { param });
        }
      }
    });

    check('the model on an endpoint of another type is a 400 model_type_mismatch', async () => {
      assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input: 'Hi' }), { param: 'model', code: 'model_type_mismatch' });
      // A completion model has no chat template to render messages with.
      assertBadRequest(await postJson(served, '/v1/chat/completions', { model: served.model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }), {
        param: 'model',
        code: 'model_type_mismatch',
      });
    });

    verifyKnownFailures();
  });
}
