// What every backend serving /v1/embeddings must do, checked through the HTTP API with the
// official SDK. A feature some engines lack is a flag of the target: without it the test is
// reported as skipped, with the reason.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { checksFor, serveDuringSuite, type ConformanceTarget } from './conformance-target.js';
import { assertBadRequest, postJson } from './openai-responses.js';

export interface EmbeddingFeatures {
  /** The length of the model's vectors. */
  vectorLength: number;
  /** The model's `max_inputs`, as configured by the target: one more is a 400. */
  maxInputs: number;
  /** `dimensions` shortens and renormalises (Matryoshka). */
  dimensions: boolean;
  /** Arrays of token ids as inputs: the ids of a text, which must embed like the text. */
  tokenIds?: { text: string; ids: number[] };
}

const SENTENCES = ['Hello world!', 'The quick brown fox jumps over the lazy dog.', 'A small cat sleeps.'];
const TOLERANCE = 1e-4;

const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const worst = Math.max(...actual.map((value, index) => Math.abs(value - expected[index])));
  assert.ok(worst <= TOLERANCE, `${what}: differs by up to ${worst}`);
}

export function embeddingConformance(target: ConformanceTarget<EmbeddingFeatures>): void {
  const { features } = target;
  describe(`embedding conformance: ${target.name}`, () => {
    const { check, verifyKnownFailures } = checksFor(target);
    const served = serveDuringSuite(target);
    const embedFloat = async (input: string | string[] | number[][]) =>
      served.client.embeddings.create({ model: served.model, input, encoding_format: 'float' });

    check('one vector per input, in input order, of the model length, normalised and distinct', async () => {
      const result = await embedFloat(SENTENCES);
      assert.equal(result.object, 'list');
      assert.equal(result.model, served.model);
      assert.deepEqual(
        result.data.map((item) => item.index),
        [0, 1, 2],
      );
      for (const item of result.data) {
        assert.equal(item.object, 'embedding');
        assert.equal(item.embedding.length, features.vectorLength);
        assert.ok(item.embedding.every(Number.isFinite), 'finite values');
        assert.ok(Math.abs(norm(item.embedding) - 1) < 1e-4, `norm ${norm(item.embedding)}`);
      }
      const [first, second] = result.data.map((item) => item.embedding);
      assert.notDeepEqual(first, second, 'different texts, different vectors');
    });

    check('a batch gives the vectors and usage of its inputs sent one by one', async () => {
      const together = await embedFloat(SENTENCES);
      const alone = await Promise.all(SENTENCES.map((sentence) => embedFloat(sentence)));
      alone.forEach((single, index) => assertClose(together.data[index].embedding, single.data[0].embedding, `input ${index}`));
      const reversed = await embedFloat([...SENTENCES].reverse());
      reversed.data.forEach((item, index) => assertClose(item.embedding, alone[SENTENCES.length - 1 - index].data[0].embedding, `reversed input ${index}`));
      assert.equal(
        together.usage.prompt_tokens,
        alone.reduce((sum, single) => sum + single.usage.prompt_tokens, 0),
        'the tokens of every input',
      );
    });

    check('usage counts the prompt tokens, and the total is the prompt', async () => {
      const result = await embedFloat('Hello world!');
      assert.ok(Number.isInteger(result.usage.prompt_tokens) && result.usage.prompt_tokens > 0, `prompt_tokens ${result.usage.prompt_tokens}`);
      assert.equal(result.usage.total_tokens, result.usage.prompt_tokens);
      const longer = await embedFloat('Hello world! Hello world!');
      assert.ok(longer.usage.prompt_tokens > result.usage.prompt_tokens, 'a longer input counts more tokens');
    });

    check('encoding_format base64 (the SDK default) decodes to the same vectors as float', async () => {
      const viaFloat = await embedFloat(SENTENCES);
      const viaBase64 = await served.client.embeddings.create({ model: served.model, input: SENTENCES });
      viaBase64.data.forEach((item, index) => assert.deepEqual(item.embedding, viaFloat.data[index].embedding, `input ${index}`));
      const raw = await postJson(served, '/v1/embeddings', { model: served.model, input: 'Hello world!', encoding_format: 'base64' });
      assert.equal(raw.status, 200);
      const encoded = (raw.body as { data: Array<{ embedding: unknown }> }).data[0].embedding;
      assert.equal(typeof encoded, 'string', 'base64 is a string on the wire');
      assert.equal(Buffer.from(encoded as string, 'base64').length, features.vectorLength * 4, 'little-endian float32');
    });

    check('dimensions shortens and renormalises; more than the model has is a 400', { feature: 'dimensions', has: features.dimensions }, async () => {
      const full = (await embedFloat('Hello world!')).data[0].embedding;
      const short = (await served.client.embeddings.create({ model: served.model, input: 'Hello world!', encoding_format: 'float', dimensions: 8 })).data[0]
        .embedding;
      assert.equal(short.length, 8);
      assert.ok(Math.abs(norm(short) - 1) < 1e-4);
      const head = full.slice(0, 8);
      assertClose(
        short,
        head.map((value) => value / norm(head)),
        'the renormalised head of the full vector',
      );
      assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input: 'x', dimensions: features.vectorLength + 1 }), {
        param: 'dimensions',
      });
    });

    check('token-id inputs embed like their text', { feature: 'token-id inputs', has: features.tokenIds !== undefined }, async () => {
      const { text, ids } = features.tokenIds!;
      const fromText = await embedFloat(text);
      const fromIds = await embedFloat([ids]);
      assertClose(fromIds.data[0].embedding, fromText.data[0].embedding, 'token ids against text');
      assert.equal(fromIds.usage.prompt_tokens, ids.length);
    });

    check('an empty input is a 400 naming it', async () => {
      for (const [input, param] of [
        ['', 'input'],
        [[], 'input'],
        [['ok', ''], 'input[1]'],
      ] as const) {
        assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input }), { param });
      }
    });

    check('more inputs than max_inputs is a 400 naming input', async () => {
      const input = Array.from({ length: features.maxInputs + 1 }, (_, index) => `text ${index}`);
      assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input }), { param: 'input' });
      const atLimit = await embedFloat(input.slice(1));
      assert.equal(atLimit.data.length, features.maxInputs);
    });

    check('a parameter value the API does not know is a 400 naming it, in the OpenAI envelope', async () => {
      assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input: 'x', encoding_format: 'binary' }), { param: 'encoding_format' });
      assertBadRequest(await postJson(served, '/v1/embeddings', { model: served.model, input: { text: 'x' } }), { param: 'input' });
    });

    check('the model on an endpoint of another type is a 400 model_type_mismatch', async () => {
      assertBadRequest(await postJson(served, '/v1/chat/completions', { model: served.model, messages: [{ role: 'user', content: 'Hi' }] }), {
        param: 'model',
        code: 'model_type_mismatch',
      });
      assertBadRequest(await postJson(served, '/v1/rerank', { model: served.model, query: 'Hi', documents: ['a'] }), {
        param: 'model',
        code: 'model_type_mismatch',
      });
    });

    verifyKnownFailures();
  });
}
