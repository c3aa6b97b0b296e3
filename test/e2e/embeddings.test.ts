// Embeddings and reranking end to end: ONNX Runtime and llama.cpp on the shared models, the
// official openai SDK as the client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { LlamaModel } from 'node-llama-cpp';
import OpenAI from 'openai';
import { writeGgufReranker } from '../helpers/gguf-reranker.js';
import { OnnxReference } from '../helpers/onnx-reference.js';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const CONFIG = `
[api.models.onnx-embed]
path = "${models.embedOnnx}"
type = "embedding"
dimensions = 32
intra_op_threads = 1
aliases = ["text-embedding-3-small"]

[api.models.onnx-embed-strict]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1
truncate = false
max_inputs = 4

[api.models.gguf-embed]
path = "${models.embedGguf}"
type = "embedding"
threads = 1

[api.models.onnx-rerank]
path = "${models.rerankOnnx}"
type = "rerank"
intra_op_threads = 1
max_inputs = 8

[api.models.gguf-embed-queue]
path = "${models.embedGguf}"
type = "embedding"
threads = 1
max_queue = 1

[api.models.onnx-embed-wait]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1
queue_timeout = 0.5
`;

function cosine(left: number[], right: number[]): number {
  let dot = 0;
  let leftNorm = 0;
  let rightNorm = 0;
  for (let index = 0; index < left.length; index++) {
    dot += left[index] * right[index];
    leftNorm += left[index] ** 2;
    rightNorm += right[index] ** 2;
  }
  return dot / Math.sqrt(leftNorm * rightNorm);
}

const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));

const SENTENCES = ['Hello world!', 'The quick brown fox jumps over the lazy dog.', 'switchyard serves local models.'];

/** A gateway serving CONFIG's models and a GGUF reranker. */
async function startEmbeddingGateway(): Promise<TestGateway> {
  const ggufReranker = await writeGgufReranker();
  return startTestGateway(`${CONFIG}
[api.models.gguf-rerank]
path = "${ggufReranker.file}"
type = "rerank"
threads = 1
`);
}

describe('embeddings and rerank', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  before(async () => {
    gateway = await startEmbeddingGateway();
    client = gateway.client;
    for (const entry of gateway.gateway.registry.list()) assert.equal(entry.status, 'ready', `${entry.id}: ${entry.reason ?? ''}`);
  });
  after(() => gateway.close());

  test('the SDK default (base64) decodes to the same vectors as encoding_format float', async () => {
    const viaBase64 = await client.embeddings.create({ model: 'onnx-embed', input: SENTENCES });
    const viaFloat = await client.embeddings.create({ model: 'onnx-embed', input: SENTENCES, encoding_format: 'float' });
    assert.equal(viaBase64.object, 'list');
    assert.equal(viaBase64.model, 'onnx-embed');
    assert.deepEqual(
      viaBase64.data.map((item) => item.index),
      [0, 1, 2],
    );
    for (let index = 0; index < SENTENCES.length; index++) {
      assert.equal(viaFloat.data[index].embedding.length, 32);
      // base64 carries float32 exactly; the float form is the same float32 values as JSON numbers.
      assert.deepEqual(viaBase64.data[index].embedding, viaFloat.data[index].embedding);
      assert.ok(Math.abs(norm(viaFloat.data[index].embedding) - 1) < 1e-5, 'normalised by default');
    }
    assert.ok(viaFloat.usage.prompt_tokens > 0);
    assert.equal(viaFloat.usage.total_tokens, viaFloat.usage.prompt_tokens);
  });

  test('vectors through the gateway equal the direct computation within 1e-5 (float, base64, user)', async () => {
    const reference = await OnnxReference.create();
    try {
      const expected = await reference.embed(
        SENTENCES.map((text) => reference.ids(text)),
        'mean',
        true,
      );
      const viaFloat = await client.embeddings.create({ model: 'onnx-embed', input: SENTENCES, encoding_format: 'float', user: 'user-1234' });
      const viaBase64 = await client.embeddings.create({ model: 'onnx-embed', input: SENTENCES });
      for (const response of [viaFloat, viaBase64]) {
        assert.equal(response.data.length, SENTENCES.length);
        response.data.forEach((item, index) => {
          assert.equal(item.embedding.length, 32);
          item.embedding.forEach((value, k) =>
            assert.ok(Math.abs(value - expected[index][k]) <= 1e-5, `${SENTENCES[index]}[${k}]: ${value} vs ${expected[index][k]}`),
          );
        });
      }
    } finally {
      await reference.dispose();
    }
  });

  test('the GGUF model answers the SDK default (base64) with its float vectors', async () => {
    const floats = await client.embeddings.create({ model: 'gguf-embed', input: SENTENCES, encoding_format: 'float' });
    const decoded = await client.embeddings.create({ model: 'gguf-embed', input: SENTENCES });
    assert.deepEqual(
      decoded.data.map((item) => item.embedding),
      floats.data.map((item) => item.embedding),
    );
    assert.ok(Math.abs(norm(floats.data[0].embedding) - 1) < 1e-5);
  });

  test('/v1/models names the device and the ONNX Runtime settings of each embedding model', async () => {
    const listed = await client.models.list();
    const onnx = listed.data.find((model) => model.id === 'onnx-embed') as unknown as {
      metadata: { device: string; dimensions: number; details: Record<string, unknown> };
    };
    assert.equal(onnx.metadata.device, 'cpu');
    assert.equal(onnx.metadata.dimensions, 32);
    assert.deepEqual(onnx.metadata.details.providersTried, ['cuda', 'cpu']);
    assert.equal(onnx.metadata.details.intraOpThreads, 1);
    assert.equal(onnx.metadata.details.graphOptimizationLevel, 'all');
    const gguf = listed.data.find((model) => model.id === 'gguf-embed') as unknown as { metadata: { device: string; dimensions: number } };
    assert.equal(gguf.metadata.device, 'cpu');
    assert.equal(gguf.metadata.dimensions, 32);
  });

  test('usage counts tokens exactly ([CLS] and [SEP] included)', async () => {
    // "Hello world!" → [CLS] hello world ! [SEP]
    const result = await client.embeddings.create({ model: 'onnx-embed', input: 'Hello world!', encoding_format: 'float' });
    assert.equal(result.usage.prompt_tokens, 5);
  });

  test('each input and rerank query or document is tokenized once per request (GGUF and ONNX)', async () => {
    // Spies on the two tokenizers the engines call (node-llama-cpp's model, transformers' tokenizer),
    // counting the calls for texts carrying this test's mark. A LlamaModel binds its tokenize when it
    // is created, so the models are loaded by a gateway of their own, started with the spies in place.
    const mark = `mark${Date.now()}`;
    const calls = new Map<string, number>();
    const count = (text: unknown) => {
      if (typeof text === 'string' && text.includes(mark)) calls.set(text, (calls.get(text) ?? 0) + 1);
    };
    const llamaTokenize = LlamaModel.prototype.tokenize;
    const transformersEncode = PreTrainedTokenizer.prototype.encode;
    LlamaModel.prototype.tokenize = function (this: LlamaModel, ...args: Parameters<typeof llamaTokenize>) {
      count(args[0]);
      return llamaTokenize.apply(this, args);
    } as typeof llamaTokenize;
    PreTrainedTokenizer.prototype.encode = function (this: PreTrainedTokenizer, ...args: Parameters<typeof transformersEncode>) {
      count(args[0]);
      return transformersEncode.apply(this, args);
    };
    const spied = await startEmbeddingGateway();
    try {
      for (const model of ['gguf-embed', 'onnx-embed']) {
        const input = [`${model} ${mark} first input`, `${model} ${mark} the second one`];
        await spied.client.embeddings.create({ model, input, encoding_format: 'float' });
        assert.deepEqual(
          input.map((text) => calls.get(text)),
          [1, 1],
          model,
        );
      }
      for (const model of ['gguf-rerank', 'onnx-rerank']) {
        const query = `${model} ${mark} query`;
        const documents = [`${model} ${mark} document one`, `${model} ${mark} document two`, `${model} ${mark} document three`];
        await spied.client.post('/rerank', { body: { model, query, documents } });
        assert.deepEqual(
          [query, ...documents].map((text) => calls.get(text)),
          [1, 1, 1, 1],
          model,
        );
      }
    } finally {
      LlamaModel.prototype.tokenize = llamaTokenize;
      PreTrainedTokenizer.prototype.encode = transformersEncode;
      await spied.close();
    }
  });

  test('ONNX and GGUF backends carry the same weights: their vectors agree', async () => {
    const onnx = await client.embeddings.create({ model: 'onnx-embed', input: SENTENCES, encoding_format: 'float' });
    const gguf = await client.embeddings.create({ model: 'gguf-embed', input: SENTENCES, encoding_format: 'float' });
    for (let index = 0; index < SENTENCES.length; index++) {
      const similarity = cosine(onnx.data[index].embedding, gguf.data[index].embedding);
      assert.ok(similarity > 0.9999, `sentence ${index}: cosine ${similarity}`);
    }
  });

  test('results are identical batched under concurrency and alone', async () => {
    const alone = await Promise.all(
      SENTENCES.map(async (sentence) => (await client.embeddings.create({ model: 'onnx-embed', input: sentence, encoding_format: 'float' })).data[0].embedding),
    );
    const concurrent = await Promise.all(
      Array.from({ length: 24 }, (_, index) => client.embeddings.create({ model: 'onnx-embed', input: SENTENCES[index % 3], encoding_format: 'float' })),
    );
    concurrent.forEach((result, index) => {
      const expected = alone[index % 3];
      result.data[0].embedding.forEach((value, position) => assert.ok(Math.abs(value - expected[position]) < 1e-5));
    });
  });

  test('token-id inputs embed like their text', async () => {
    const fromText = await client.embeddings.create({ model: 'onnx-embed', input: 'Hello world!', encoding_format: 'float' });
    const fromTokens = await client.embeddings.create({ model: 'onnx-embed', input: [[101, 7592, 2088, 999, 102]], encoding_format: 'float' });
    fromTokens.data[0].embedding.forEach((value, index) => assert.ok(Math.abs(value - fromText.data[0].embedding[index]) < 1e-5));
    const flat = await client.embeddings.create({ model: 'onnx-embed', input: [101, 7592, 2088, 999, 102], encoding_format: 'float' });
    assert.equal(flat.data.length, 1);
  });

  test('dimensions shortens and renormalises; larger than the model is a 400', async () => {
    const full = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'Hello world!', encoding_format: 'float' });
    const short = await client.embeddings.create({ model: 'onnx-embed', input: 'Hello world!', encoding_format: 'float', dimensions: 8 });
    assert.equal(short.data[0].embedding.length, 8);
    assert.ok(Math.abs(norm(short.data[0].embedding) - 1) < 1e-5);
    const head = full.data[0].embedding.slice(0, 8);
    assert.ok(cosine(head, short.data[0].embedding) > 0.99999);
    await assert.rejects(
      client.embeddings.create({ model: 'onnx-embed', input: 'x', dimensions: 64 }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'dimensions',
    );
  });

  test('long inputs are truncated by default, refused with both lengths when truncate = false', async () => {
    const long = 'word '.repeat(700);
    const truncated = await client.embeddings.create({ model: 'onnx-embed', input: long, encoding_format: 'float' });
    assert.equal(truncated.usage.prompt_tokens, 512);
    await assert.rejects(client.embeddings.create({ model: 'onnx-embed-strict', input: long }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError);
      assert.match(error.message, /702/);
      assert.match(error.message, /512/);
      return true;
    });
  });

  test('validation errors name the index', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      ['', 'input', /must not be empty/],
      [[], 'input', /must not be empty/],
      [['ok', ''], 'input[1]', /must not be empty/],
      [['ok', 5], 'input[1]', /expected a string or an array of token ids/],
      [['ok', [1, -2]], 'input[1][1]', /token id/],
      [['ok', [101, 30522, 102]], 'input[1][1]', /token id 30522 is outside this model's vocabulary \(0 to 30521\)/],
      [[101, 7592, 999999], 'input[2]', /outside this model's vocabulary/],
      [{ text: 'x' }, 'input', /expected a string/],
      [[[]], 'input[0]', /token array must not be empty/],
      [['ok', [1, 'a']], 'input[1]', /expected an array of token ids/],
      [['ok', null], 'input[1]', /found null/],
      [undefined, 'input', /Missing required parameter/],
      [Array.from({ length: 2049 }, () => 'a'), 'input', /at most 2048 inputs per request, found 2049/],
    ];
    for (const [input, param, message] of cases) {
      const response = await fetch(`${gateway.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'onnx-embed', input }),
      });
      const body = (await response.json()) as { error: { param: string; message: string } };
      assert.equal(response.status, 400, JSON.stringify(input));
      assert.equal(body.error.param, param);
      assert.match(body.error.message, message);
    }
    await assert.rejects(
      client.embeddings.create({ model: 'onnx-embed-strict', input: ['a', 'b', 'c', 'd', 'e'] }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /at most 4 inputs/.test(error.message),
    );
    await assert.rejects(
      client.embeddings.create({ model: 'onnx-embed', input: 'x', encoding_format: 'binary' as 'float' }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'encoding_format',
    );
    for (const dimensions of [0, -3, 1.5]) {
      await assert.rejects(
        client.embeddings.create({ model: 'onnx-embed', input: 'x', dimensions }),
        (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'dimensions',
      );
    }
  });

  test('a client that leaves while its inputs wait has them dropped before they run', async () => {
    const batcher = gateway.gateway.registry.list().find((entry) => entry.id === 'onnx-embed')!.embeddingBatcher!;
    const queued = () => batcher.queuedInputs ?? 0;
    const inputsRun = async () => {
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      return Number(/switchyard_embedding_batch_size_sum\{model="onnx-embed"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    };
    const before = await inputsRun();
    // 512 inputs cut to 512 tokens: 16 full runs, long enough to queue, see and drop a request behind them.
    const long = Array.from({ length: 600 }, (_, index) => `word${index % 13}`).join(' ');
    const busy = client.embeddings.create({ model: 'onnx-embed', input: Array.from({ length: 512 }, () => long), encoding_format: 'float' });
    await waitFor(() => queued() > 0 && queued() < 512, 10_000, 'the first run to start');
    const leaving = new AbortController();
    const doomed = fetch(`${gateway.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'onnx-embed', input: ['one', 'two', 'three', 'four', 'five'] }),
      signal: leaving.signal,
    });
    let queuedWithDoomed = 0;
    await waitFor(() => (queuedWithDoomed = queued()) % 32 === 5, 10_000, 'the five inputs to queue behind the long request');
    leaving.abort();
    await assert.rejects(doomed, (error: Error) => error.name === 'AbortError');
    await waitFor(() => queued() % 32 === 0, 10_000, 'the five inputs to be dropped');
    assert.ok(queued() < queuedWithDoomed);
    assert.equal((await busy).data.length, 512);
    assert.equal(await inputsRun(), before + 512, 'only the long request ran');
  });

  /**
   * Starts a request of 512 inputs cut to the model's limit (many full engine runs) and waits until
   * its first run has started: the engine is then busy, and a request sent now waits. Abort it to end.
   */
  async function holdEngine(model: string): Promise<{ queued: () => number; release: () => Promise<void> }> {
    const batcher = gateway.gateway.registry.find(model)!.embeddingBatcher!;
    const queued = () => batcher.queuedInputs ?? 0;
    const long = Array.from({ length: 600 }, (_, index) => `word${index % 13}`).join(' ');
    const leaving = new AbortController();
    const busy = client.embeddings
      .create({ model, input: Array.from({ length: 512 }, () => long), encoding_format: 'float' }, { signal: leaving.signal })
      .catch(() => undefined);
    await waitFor(() => queued() > 0 && queued() < 512, 20_000, 'the long request to start running');
    return {
      queued,
      release: async () => {
        leaving.abort();
        await busy;
      },
    };
  }

  test('embedding requests beyond max_queue waiting ones get 429 queue_full with Retry-After', async () => {
    // gguf-embed-queue has max_queue = 1: with the engine busy, one request may wait, the next is refused.
    const engine = await holdEngine('gguf-embed-queue');
    try {
      const waiting = client.embeddings.create({ model: 'gguf-embed-queue', input: 'I wait my turn', encoding_format: 'float' });
      await waitFor(() => engine.queued() % 32 === 1, 10_000, 'the first request to wait');
      const refused = await fetch(`${gateway.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gguf-embed-queue', input: 'one too many' }),
      });
      const body = (await refused.json()) as { error: { type: string; code: string; message: string } };
      assert.equal(refused.status, 429, JSON.stringify(body));
      assert.equal(body.error.type, 'rate_limit_error');
      assert.equal(body.error.code, 'queue_full');
      assert.match(body.error.message, /max_queue/);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1, `retry-after ${refused.headers.get('retry-after')}`);
      assert.ok(Number(refused.headers.get('retry-after-ms')) >= 1, `retry-after-ms ${refused.headers.get('retry-after-ms')}`);
      await engine.release();
      assert.equal((await waiting).data.length, 1, 'the waiting request runs once the engine is free');
    } finally {
      await engine.release();
    }
  });

  test('an embedding request waiting past queue_timeout gets 503 queue_timeout with Retry-After', async () => {
    // onnx-embed-wait has queue_timeout = 0.5: the request waits behind the long one, then gives up.
    const engine = await holdEngine('onnx-embed-wait');
    try {
      const started = performance.now();
      const response = await fetch(`${gateway.url}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'onnx-embed-wait', input: 'too late' }),
      });
      const body = (await response.json()) as { error: { type: string; code: string; message: string } };
      assert.equal(response.status, 503, JSON.stringify(body));
      assert.equal(body.error.type, 'service_unavailable_error');
      assert.equal(body.error.code, 'queue_timeout');
      assert.match(body.error.message, /queue_timeout/);
      assert.ok(performance.now() - started >= 450, 'it waited its queue_timeout');
      assert.equal(response.headers.get('retry-after'), '1');
      assert.equal(response.headers.get('retry-after-ms'), '500');
      assert.ok(engine.queued() % 32 === 0, 'its input left the queue');
    } finally {
      await engine.release();
    }
  });

  test('a bad request among concurrent ones fails alone, with a 400 naming the token', async () => {
    const results = await Promise.allSettled([
      client.embeddings.create({ model: 'onnx-embed', input: 'good one', encoding_format: 'float' }),
      client.embeddings.create({ model: 'onnx-embed', input: [[101, 999999999, 102]], encoding_format: 'float' }),
      client.embeddings.create({ model: 'onnx-embed', input: 'good two', encoding_format: 'float' }),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[2].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    const error = (results[1] as PromiseRejectedResult).reason as unknown;
    assert.ok(error instanceof OpenAI.BadRequestError && error.param === 'input[0][1]', String(error));
  });

  test('rerank orders documents by score, honours top_n and return_documents', async () => {
    const documents = ['A cat sat on the mat.', 'Stocks fell today.', { text: 'Dogs and cats are pets.' }, 'The weather is sunny.'];
    const response = await fetch(`${gateway.url}/v1/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'onnx-rerank', query: 'pets', documents, top_n: 3, return_documents: true }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      model: string;
      results: Array<{ index: number; relevance_score: number; document?: { text: string } }>;
      usage: { prompt_tokens: number };
    };
    assert.equal(body.model, 'onnx-rerank');
    assert.equal(body.results.length, 3);
    for (let index = 1; index < body.results.length; index++) assert.ok(body.results[index - 1].relevance_score >= body.results[index].relevance_score);
    for (const result of body.results) {
      assert.ok(result.relevance_score > 0 && result.relevance_score < 1, 'sigmoid scores');
      const original = documents[result.index];
      assert.equal(result.document?.text, typeof original === 'string' ? original : original.text);
    }
    assert.ok(body.usage.prompt_tokens > 0);
    const plain = await fetch(`${gateway.url}/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'onnx-rerank', query: 'pets', documents }),
    });
    const plainBody = (await plain.json()) as { results: Array<{ index: number; document?: unknown }> };
    assert.equal(plainBody.results.length, 4);
    assert.equal(plainBody.results[0].document, undefined);
    assert.deepEqual(
      plainBody.results.slice(0, 3).map((result) => result.index),
      body.results.map((result) => result.index),
    );
  });

  test('rerank through the SDK: scores equal sigmoid(logit) of the model, the same alone as together', async () => {
    type RerankBody = { results: Array<{ index: number; relevance_score: number }>; usage: { prompt_tokens: number; total_tokens: number } };
    const documents = ['A cat sat on the mat.', 'Stocks fell today.', 'Dogs and cats are pets.'];
    const together = await client.post<RerankBody>('/rerank', { body: { model: 'onnx-rerank', query: 'pets', documents } });
    assert.equal(together.results.length, 3);
    assert.equal(together.usage.total_tokens, together.usage.prompt_tokens);
    for (const [index, document] of documents.entries()) {
      const alone = await client.post<RerankBody>('/rerank', { body: { model: 'onnx-rerank', query: 'pets', documents: [document] } });
      const score = together.results.find((result) => result.index === index)!.relevance_score;
      assert.ok(Math.abs(alone.results[0].relevance_score - score) < 1e-6, `${document}: ${alone.results[0].relevance_score} vs ${score}`);
    }
  });

  test('a GGUF reranker through the SDK: sigmoid scores sorted best first, top_n, return_documents, the same alone', async () => {
    type RerankBody = {
      model: string;
      results: Array<{ index: number; relevance_score: number; document?: { text: string } }>;
      usage: { prompt_tokens: number };
    };
    const documents = ['A cat sat on the mat.', 'Stocks fell today.', { text: 'Dogs and cats are pets.' }];
    const all = await client.post<RerankBody>('/rerank', { body: { model: 'gguf-rerank', query: 'pets', documents } });
    assert.equal(all.model, 'gguf-rerank');
    assert.deepEqual(all.results.map((result) => result.index).sort(), [0, 1, 2]);
    for (let index = 1; index < all.results.length; index++) assert.ok(all.results[index - 1].relevance_score > all.results[index].relevance_score);
    for (const result of all.results) assert.ok(result.relevance_score > 0 && result.relevance_score < 1, 'sigmoid scores');
    assert.ok(all.usage.prompt_tokens > 0);
    const top = await client.post<RerankBody>('/rerank', { body: { model: 'gguf-rerank', query: 'pets', documents, top_n: 2, return_documents: true } });
    assert.deepEqual(
      top.results.map((result) => result.index),
      all.results.slice(0, 2).map((result) => result.index),
    );
    assert.deepEqual(
      top.results.map((result) => result.document?.text),
      top.results.map((result) => {
        const original = documents[result.index];
        return typeof original === 'string' ? original : original.text;
      }),
    );
    const alone = await client.post<RerankBody>('/rerank', { body: { model: 'gguf-rerank', query: 'pets', documents: ['Stocks fell today.'] } });
    assert.ok(Math.abs(alone.results[0].relevance_score - all.results.find((result) => result.index === 1)!.relevance_score) < 1e-6);
  });

  test('rerank validation', async () => {
    for (const [patch, param] of [
      [{ query: '' }, 'query'],
      [{ documents: [] }, 'documents'],
      [{ documents: [3] }, 'documents[0]'],
      [{ top_n: 0 }, 'top_n'],
    ] as const) {
      const response = await fetch(`${gateway.url}/v1/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'onnx-rerank', query: 'q', documents: ['d'], ...patch }),
      });
      assert.equal(response.status, 400);
      assert.equal(((await response.json()) as { error: { param: string } }).error.param, param);
    }
    await assert.rejects(
      client.post('/rerank', { body: { model: 'onnx-rerank', query: 'q', documents: Array.from({ length: 9 }, () => 'd') } }),
      (error: unknown) =>
        error instanceof OpenAI.BadRequestError && error.param === 'documents' && /at most 8 documents per request, found 9/.test(error.message),
    );
    const wrongType = await fetch(`${gateway.url}/v1/rerank`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'onnx-embed', query: 'q', documents: ['d'] }),
    });
    assert.equal(wrongType.status, 400);
  });
});
