// The ONNX embedding adapter against a direct computation: the model's own tokenizer, a plain
// onnxruntime-node session, masked mean pooling and L2 normalisation written out here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chooseEmbeddingOutput } from '../../src/backends/onnx/embedding.js';
import { loadOnnxModel } from '../../src/backends/onnx/index.js';
import { type LoadedModel } from '../../src/engine/contract.js';
import { InputTooLongError, InvalidInputError } from '../../src/engine/errors.js';
import { modelSchema } from '../../src/config/schema.js';
import { createSilentLogger } from '../../src/logger.js';
import { OnnxReference as Reference } from '../helpers/onnx-reference.js';
import { prepareAndEmbed, preparedTokenCounts } from '../helpers/prepared-embedding.js';
import { models } from '../helpers/paths.js';

const TOLERANCE = 1e-5;
const SENTENCES = ['Hello world!', 'A somewhat longer sentence, so that the batch needs padding.', 'Short one.'];

function load(settings: Record<string, unknown> = {}, folder = models.embedOnnx): Promise<LoadedModel> {
  const config = modelSchema.parse({ path: folder, type: 'embedding', intra_op_threads: 1, ...settings });
  return loadOnnxModel({ id: 'tiny-bert-embed', config, resolvedPath: folder, logger: createSilentLogger() });
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, message?: string): void {
  assert.equal(actual.length, expected.length, message);
  for (let k = 0; k < expected.length; k++) {
    assert.ok(Math.abs(actual[k] - expected[k]) <= TOLERANCE, `${message ?? 'vector'}[${k}]: ${actual[k]} vs ${expected[k]}`);
  }
}

const norm = (vector: ArrayLike<number>) => Math.hypot(...Array.from(vector));

describe('ONNX embedding adapter (tiny-bert-embed)', () => {
  let reference: Reference;
  let model: LoadedModel;

  before(async () => {
    [reference, model] = await Promise.all([Reference.create(), load()]);
  });
  after(async () => {
    await Promise.all([reference?.dispose(), model?.dispose()]);
  });

  test('loads on CPU with the default ["cuda", "cpu"] providers and reports the model', () => {
    assert.equal(model.info.device, 'cpu');
    assert.deepEqual(model.info.details?.providersTried, ['cuda', 'cpu']);
    assert.equal(model.info.dimensions, 32);
    assert.equal(model.info.contextLength, 512);
    assert.equal(model.parallelism, 1);
    assert.equal(model.rerank, undefined);
    assert.equal(model.embedding?.dimensions, 32);
    assert.equal(model.embedding?.maxInputTokens, 512);
  });

  test('mean-pooled, normalised vectors equal the direct computation', async () => {
    const result = await prepareAndEmbed(model.embedding!, SENTENCES, { truncate: true });
    const expected = await reference.embed(
      SENTENCES.map((text) => reference.ids(text)),
      'mean',
      true,
    );
    assert.equal(result.vectors.length, SENTENCES.length);
    result.vectors.forEach((vector, i) => {
      assertClose(vector, expected[i], SENTENCES[i]);
      assert.ok(Math.abs(norm(vector) - 1) < 1e-6);
    });
    assert.deepEqual(
      result.tokenCounts,
      SENTENCES.map((text) => reference.ids(text).length),
    );
  });

  test('each input gets the same vector alone as in a batch (padding is masked)', async () => {
    const batched = await prepareAndEmbed(model.embedding!, SENTENCES, { truncate: true });
    for (const [i, text] of SENTENCES.entries()) {
      const [alone] = (await prepareAndEmbed(model.embedding!, [text], { truncate: true })).vectors;
      assertClose(alone, batched.vectors[i], text);
    }
  });

  test('runs are split by max_batch_size and max_batch_tokens without changing results', async () => {
    const small = await load({ max_batch_size: 2, max_batch_tokens: 40 });
    try {
      const texts = [...SENTENCES, 'one more', 'and the last of them all'];
      const split = await prepareAndEmbed(small.embedding!, texts, { truncate: true });
      const whole = await prepareAndEmbed(model.embedding!, texts, { truncate: true });
      split.vectors.forEach((vector, i) => assertClose(vector, whole.vectors[i], texts[i]));
      assert.deepEqual(split.tokenCounts, whole.tokenCounts);
    } finally {
      await small.dispose();
    }
  });

  test('the prepared token counts equal the tokens run, special tokens included', async () => {
    const inputs = [...SENTENCES, [101, 7592, 102]];
    const counts = await preparedTokenCounts(model.embedding!, inputs, true);
    const result = await prepareAndEmbed(model.embedding!, inputs, { truncate: true });
    assert.deepEqual(counts, result.tokenCounts);
    assert.equal(counts[0], 5);
    assert.equal(counts[3], 3);
  });

  test('cls and last pooling, and normalize = false, follow the config', async () => {
    const rows = SENTENCES.map((text) => reference.ids(text));
    for (const pooling of ['cls', 'last'] as const) {
      const pooled = await load({ pooling });
      try {
        const result = await prepareAndEmbed(pooled.embedding!, SENTENCES, { truncate: true });
        const expected = await reference.embed(rows, pooling, true);
        result.vectors.forEach((vector, i) => assertClose(vector, expected[i], `${pooling} ${SENTENCES[i]}`));
        assert.equal(pooled.info.details?.pooling, pooling);
      } finally {
        await pooled.dispose();
      }
    }
    const raw = await load({ normalize: false });
    try {
      const result = await prepareAndEmbed(raw.embedding!, SENTENCES, { truncate: true });
      const expected = await reference.embed(rows, 'mean', false);
      result.vectors.forEach((vector, i) => assertClose(vector, expected[i], `unnormalised ${SENTENCES[i]}`));
      assert.ok(Math.abs(norm(result.vectors[0]) - 1) > 1e-3, 'a raw mean is not unit length');
    } finally {
      await raw.dispose();
    }
  });

  test('inter_op_threads, graph_optimization_level and allow_spinning reach the session and leave the vectors unchanged', async () => {
    const tuned = await load({ inter_op_threads: 2, graph_optimization_level: 'disabled', allow_spinning: true });
    try {
      assert.equal(tuned.info.details?.interOpThreads, 2);
      assert.equal(tuned.info.details?.graphOptimizationLevel, 'disabled');
      assert.equal(tuned.info.details?.allowSpinning, true);
      assert.equal(model.info.details?.graphOptimizationLevel, 'all');
      assert.equal(model.info.details?.allowSpinning, false);
      const result = await prepareAndEmbed(tuned.embedding!, SENTENCES, { truncate: true });
      const expected = await reference.embed(
        SENTENCES.map((text) => reference.ids(text)),
        'mean',
        true,
      );
      result.vectors.forEach((vector, i) => assertClose(vector, expected[i], SENTENCES[i]));
    } finally {
      await tuned.dispose();
    }
  });

  test('the embedding output: a sentence-level one when the graph has it, else per-token states, never pooler_output first', () => {
    const output = (name: string, rank: number) => ({ name, type: 'float32', shape: Array.from({ length: rank }, () => 'dim') });
    assert.deepEqual(chooseEmbeddingOutput([output('last_hidden_state', 3), output('sentence_embedding', 2)]), { name: 'sentence_embedding', perToken: false });
    assert.deepEqual(chooseEmbeddingOutput([output('text_embeds', 2), output('last_hidden_state', 3)]), { name: 'text_embeds', perToken: false });
    assert.deepEqual(chooseEmbeddingOutput([output('pooler_output', 2), output('last_hidden_state', 3)]), { name: 'last_hidden_state', perToken: true });
    assert.deepEqual(chooseEmbeddingOutput([output('hidden', 3)]), { name: 'hidden', perToken: true });
    assert.deepEqual(chooseEmbeddingOutput([output('pooler_output', 2)]), { name: 'pooler_output', perToken: false });
    assert.deepEqual(chooseEmbeddingOutput([output('embeddings', 2)]), { name: 'embeddings', perToken: false });
    assert.throws(
      () => chooseEmbeddingOutput([{ name: 'ids', type: 'int64', shape: ['batch'] }]),
      /no float32 embedding output \(outputs: ids int64 \[batch\]\)/,
    );
  });

  test('a configured dimensions that does not match fails the load naming both numbers', async () => {
    await assert.rejects(load({ dimensions: 768 }), (error: Error) => /768/.test(error.message) && /32/.test(error.message));
    const matching = await load({ dimensions: 32 });
    await matching.dispose();
  });

  test('a long input is cut to 512 tokens, keeping [CLS] and [SEP], when truncate is on', async () => {
    const text = Array.from({ length: 600 }, (_, i) => `word${i % 7}`).join(' ');
    const full = reference.ids(text);
    assert.ok(full.length > 512);
    assert.deepEqual(await preparedTokenCounts(model.embedding!, [text], true), [512]);
    const result = await prepareAndEmbed(model.embedding!, [text], { truncate: true });
    assert.deepEqual(result.tokenCounts, [512]);
    // As Python/Rust tokenizers (TEI, sentence-transformers) truncate: content cut, specials kept.
    const cut = [...full.slice(0, 511), full[full.length - 1]];
    const [expected] = await reference.embed([cut], 'mean', true);
    assertClose(result.vectors[0], expected, 'truncated');
  });

  test('a long input with truncate off is refused with InputTooLongError naming both lengths', async () => {
    const text = Array.from({ length: 600 }, () => 'token').join(' ');
    const length = reference.ids(text).length;
    await assert.rejects(prepareAndEmbed(model.embedding!, ['fine', text], { truncate: false }), (error: Error) => {
      assert.ok(error instanceof InputTooLongError);
      assert.match(error.message, new RegExp(`${length}`));
      assert.match(error.message, /512/);
      return true;
    });
    const tooManyIds = Array.from({ length: 513 }, () => 1000);
    await assert.rejects(prepareAndEmbed(model.embedding!, [tooManyIds], { truncate: false }), InputTooLongError);
    assert.deepEqual((await prepareAndEmbed(model.embedding!, [tooManyIds], { truncate: true })).tokenCounts, [512]);
  });

  test('token-id inputs are the whole sequence, used as given', async () => {
    const ids = reference.ids('Hello world!');
    assert.deepEqual(ids, [101, 7592, 2088, 999, 102]);
    const result = await prepareAndEmbed(model.embedding!, [ids, 'Hello world!', [7592, 2088, 999]], { truncate: true });
    assertClose(result.vectors[0], result.vectors[1], 'ids with specials = text');
    assert.deepEqual(result.tokenCounts, [5, 5, 3]);
    const [bare] = await reference.embed([[7592, 2088, 999]], 'mean', true);
    assertClose(result.vectors[2], bare, 'ids without specials get none added');
  });

  test('token ids outside the vocabulary and empty token arrays are refused', async () => {
    await assert.rejects(
      prepareAndEmbed(model.embedding!, [[101, 30522, 102]], { truncate: true }),
      (error: Error) => error instanceof InvalidInputError && /30522/.test(error.message),
    );
    await assert.rejects(prepareAndEmbed(model.embedding!, [[101, -1]], { truncate: true }), InvalidInputError);
    await assert.rejects(prepareAndEmbed(model.embedding!, [[]], { truncate: true }), InvalidInputError);
  });

  test('an aborted signal stops the request', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(prepareAndEmbed(model.embedding!, ['hello'], { truncate: true, signal: controller.signal }), { name: 'AbortError' });
  });

  test('the tokenizer capability gives the ids the model runs', async () => {
    assert.deepEqual(await model.tokenizer!.tokenize('Hello world!', { addSpecialTokens: true }), [101, 7592, 2088, 999, 102]);
    assert.deepEqual(await model.tokenizer!.tokenize('Hello world!'), [7592, 2088, 999]);
    assert.equal(await model.tokenizer!.detokenize([7592, 2088, 999]), 'hello world!');
  });

  test('after dispose the model refuses work', async () => {
    const disposable = await load();
    await disposable.dispose();
    await assert.rejects(prepareAndEmbed(disposable.embedding!, ['hello'], { truncate: true }), /unloaded/);
    await disposable.dispose();
  });
});

describe('ONNX adapter loading', () => {
  test('execution providers are tried in order: cuda alone fails here with its reason', async () => {
    await assert.rejects(load({ execution_providers: ['cuda'] }), /cuda/i);
    const cpu = await load({ execution_providers: ['cpu'] });
    assert.equal(cpu.info.device, 'cpu');
    await cpu.dispose();
  });

  test('a chat model is refused by the ONNX backend', async () => {
    const config = modelSchema.parse({ path: models.embedOnnx, type: 'chat' });
    await assert.rejects(loadOnnxModel({ id: 'x', config, resolvedPath: models.embedOnnx, logger: createSilentLogger() }), /embedding and rerank/);
  });
});
