// The ONNX rerank adapter: cross-encoders scored on (query, document) pairs.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AutoTokenizer, env } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { loadOnnxModel } from '../../src/backends/onnx/index.js';
import { relevanceLogit } from '../../src/backends/onnx/rerank.js';
import { type LoadedModel } from '../../src/engine/contract.js';
import { InputTooLongError } from '../../src/engine/errors.js';
import { modelSchema } from '../../src/config/schema.js';
import { createSilentLogger } from '../../src/logger.js';
import { models } from '../helpers/paths.js';

const QUERY = 'what do foxes eat';
const DOCUMENTS = ['Foxes eat small rodents, birds and berries.', 'The stock market fell today.', 'Red foxes hunt at night.', 'Cheese.'];

function load(folder: string, settings: Record<string, unknown> = {}): Promise<LoadedModel> {
  const config = modelSchema.parse({ path: folder, type: 'rerank', intra_op_threads: 1, ...settings });
  return loadOnnxModel({ id: path.basename(folder), config, resolvedPath: folder, logger: createSilentLogger() });
}

/** Logits straight from a plain session, on transformers.js's own padded pair encoding. */
async function directLogits(folder: string, query: string, documents: string[]): Promise<{ logits: Float32Array; labels: number }> {
  env.allowRemoteModels = false;
  const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
  const encoded = tokenizer(
    documents.map(() => query),
    { text_pair: documents, padding: true, truncation: true },
  );
  const session = await ort.InferenceSession.create(path.join(folder, 'model.onnx'), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of session.inputNames) {
      const tensor = encoded[name as 'input_ids'];
      feeds[name] = new ort.Tensor('int64', tensor.data as BigInt64Array, tensor.dims);
    }
    const output = await session.run(feeds);
    return { logits: output.logits.data as Float32Array, labels: output.logits.dims[1] };
  } finally {
    await session.release();
  }
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('ONNX rerank adapter (tiny-bert-reranker)', () => {
  let raw: LoadedModel;
  let squashed: LoadedModel;
  before(async () => {
    [raw, squashed] = await Promise.all([load(models.rerankOnnx, { sigmoid: false }), load(models.rerankOnnx)]);
  });
  after(async () => {
    await Promise.all([raw?.dispose(), squashed?.dispose()]);
  });

  test('raw scores equal the logits of a direct run', async () => {
    const { logits } = await directLogits(models.rerankOnnx, QUERY, DOCUMENTS);
    const { scores, promptTokens } = await raw.rerank!.rerank(QUERY, DOCUMENTS, { truncate: true });
    assert.equal(scores.length, DOCUMENTS.length);
    scores.forEach((score, i) => assert.ok(Math.abs(score - logits[i]) < 1e-5, `${score} vs ${logits[i]}`));
    assert.equal(new Set(scores).size, DOCUMENTS.length, 'documents score differently');
    assert.ok(promptTokens > 0);
    assert.equal(raw.info.details?.labels, 1);
    assert.equal(raw.embedding, undefined);
  });

  test('scores are deterministic, and a pair alone scores as in the batch', async () => {
    const first = await raw.rerank!.rerank(QUERY, DOCUMENTS, { truncate: true });
    const second = await raw.rerank!.rerank(QUERY, DOCUMENTS, { truncate: true });
    assert.deepEqual(second.scores, first.scores);
    let tokens = 0;
    for (const [i, document] of DOCUMENTS.entries()) {
      const alone = await raw.rerank!.rerank(QUERY, [document], { truncate: true });
      assert.ok(Math.abs(alone.scores[0] - first.scores[i]) < 1e-5, document);
      tokens += alone.promptTokens;
    }
    assert.equal(first.promptTokens, tokens, 'promptTokens is the total of the pairs run');
  });

  test('sigmoid (the default) squashes the logits into 0..1', async () => {
    const rawScores = (await raw.rerank!.rerank(QUERY, DOCUMENTS, { truncate: true })).scores;
    const squashedScores = (await squashed.rerank!.rerank(QUERY, DOCUMENTS, { truncate: true })).scores;
    squashedScores.forEach((score, i) => {
      assert.ok(score > 0 && score < 1);
      assert.ok(Math.abs(score - sigmoid(rawScores[i])) < 1e-9);
    });
  });

  test('an over-long pair is cut longest side first, or refused when truncate is off', async () => {
    const longDocument = Array.from({ length: 700 }, (_, i) => `fox${i % 5}`).join(' ');
    const cut = await raw.rerank!.rerank(QUERY, [longDocument, DOCUMENTS[0]], { truncate: true });
    assert.ok(Number.isFinite(cut.scores[0]));
    const shortPair = await raw.rerank!.rerank(QUERY, [DOCUMENTS[0]], { truncate: true });
    assert.equal(cut.promptTokens, 512 + shortPair.promptTokens);
    await assert.rejects(
      raw.rerank!.rerank(QUERY, [longDocument], { truncate: false }),
      (error: Error) => error instanceof InputTooLongError && /512/.test(error.message),
    );
  });

  test('an empty document list gives no scores', async () => {
    assert.deepEqual(await raw.rerank!.rerank(QUERY, [], { truncate: true }), { scores: [], promptTokens: 0 });
  });
});

describe('ONNX rerank adapter (tiny-distilbert-classifier: no token_type_ids, 2 logits)', () => {
  test('loads without token_type_ids and scores with the log-odds of the last label', async () => {
    const model = await load(models.classifierOnnx, { sigmoid: false });
    try {
      assert.deepEqual(model.info.details?.inputs, ['input_ids', 'attention_mask']);
      assert.equal(model.info.details?.labels, 2);
      const { logits, labels } = await directLogits(models.classifierOnnx, QUERY, DOCUMENTS);
      assert.equal(labels, 2);
      const { scores } = await model.rerank!.rerank(QUERY, DOCUMENTS, { truncate: true });
      scores.forEach((score, i) =>
        assert.ok(Math.abs(score - (logits[i * 2 + 1] - logits[i * 2])) < 1e-6, `${score} vs ${logits[i * 2 + 1]} - ${logits[i * 2]}`),
      );
    } finally {
      await model.dispose();
    }
  });
});

test('relevanceLogit: the logit of one label; log-odds of the last label against the rest, whose sigmoid is its softmax probability', () => {
  assert.equal(relevanceLogit([2.5]), 2.5);
  assert.ok(Math.abs(relevanceLogit([3, 2]) - -1) < 1e-12);
  const logits = [0.3, -1.2, 2.0];
  const softmaxLast = Math.exp(2.0) / logits.reduce((sum, value) => sum + Math.exp(value), 0);
  assert.ok(Math.abs(1 / (1 + Math.exp(-relevanceLogit(logits))) - softmaxLast) < 1e-12);
  assert.ok(Number.isFinite(relevanceLogit([1000, 999])), 'stable for large logits');
});
