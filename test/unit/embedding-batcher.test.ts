// The dynamic embedding batcher: merging, limits, grouping, failure isolation, aborts and the
// queue limits (max_queue, queue_timeout) with a counting stand-in engine, then batched against
// unbatched vectors on the real ONNX model.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadOnnxModel } from '../../src/backends/onnx/index.js';
import { type EmbeddingBatchResult, type EmbeddingCapability, type EmbeddingInput, type PreparedEmbeddingInput } from '../../src/engine/contract.js';
import { modelSchema } from '../../src/config/schema.js';
import { toGatewayError } from '../../src/api/error-mapping.js';
import { QueueFullError, QueueTimeoutError } from '../../src/scheduler/admission-errors.js';
import { createSilentLogger } from '../../src/logger.js';
import { EmbeddingBatcher, type EmbeddingBatcherOptions } from '../../src/scheduler/embedding-batcher.js';
import { models } from '../helpers/paths.js';

interface CountedInput extends PreparedEmbeddingInput {
  text: string;
}

/**
 * Token count = string length; the "vector" spells the input back, so every request can check it
 * got its own. Runs wait on `gate` while one is set, and an input "bad" fails its run.
 */
class CountingEngine implements EmbeddingCapability<CountedInput> {
  readonly dimensions = 1;
  readonly maxInputTokens = 100;
  readonly runs: string[][] = [];
  gate: Promise<void> | undefined;
  #openGate: (() => void) | undefined;

  close(): void {
    this.gate = new Promise((resolve) => (this.#openGate = resolve));
  }

  open(): void {
    this.#openGate?.();
    this.gate = undefined;
  }

  async prepare(inputs: EmbeddingInput[]): Promise<CountedInput[]> {
    return prepared(inputs.map(String));
  }

  async embed(inputs: readonly CountedInput[], options: { signal?: AbortSignal }): Promise<EmbeddingBatchResult> {
    const texts = inputs.map((input) => input.text);
    this.runs.push(texts);
    await this.gate;
    options.signal?.throwIfAborted();
    if (texts.includes('bad')) throw new Error('the engine rejects "bad"');
    return {
      vectors: texts.map((text) => Float32Array.from(text, (character) => character.charCodeAt(0))),
      tokenCounts: texts.map((text) => Math.min(text.length, this.maxInputTokens)),
    };
  }
}

/** What the engine's prepare makes of `texts`: token count = length, cut at 100. */
function prepared(texts: string[]): CountedInput[] {
  return texts.map((text) => ({ tokenCount: Math.min(text.length, 100), text }));
}

const spell = (vector: Float32Array) => String.fromCharCode(...vector);
const word = (length: number, letter = 'x') => letter.repeat(length);
/**
 * Long enough for submits to be counted, queued and (when idle) started: the batcher starts runs
 * from setImmediate, and an immediate queued after it runs after it, however loaded the machine.
 */
async function tick(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setImmediate(resolve));
}

function batcherFor(engine: CountingEngine, options: Partial<EmbeddingBatcherOptions> = {}): EmbeddingBatcher {
  return new EmbeddingBatcher(engine, { model: 'counting', maxQueue: 64, queueTimeoutMs: 30_000, maxBatchSize: 32, maxBatchTokens: 16384, ...options });
}

async function submitted(batcher: EmbeddingBatcher, inputs: string[], signal?: AbortSignal): Promise<string[]> {
  const result = await batcher.submit(prepared(inputs), { signal });
  assert.deepEqual(
    result.tokenCounts,
    inputs.map((input) => input.length),
  );
  return result.vectors.map(spell);
}

describe('EmbeddingBatcher', () => {
  test('concurrent requests are merged into one engine run, each getting its own vectors', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine);
    const requests = Array.from({ length: 10 }, (_, i) => [`request${i}`, `second${i}`]);
    const results = await Promise.all(requests.map((inputs) => submitted(batcher, inputs)));
    assert.deepEqual(results, requests);
    assert.equal(engine.runs.length, 1);
    assert.equal(engine.runs[0].length, 20);
  });

  test('an idle engine starts at once; inputs arriving during a run form the next batch', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine);
    engine.close();
    const first = submitted(batcher, ['first']);
    await tick();
    assert.deepEqual(engine.runs, [['first']], 'the first request did not wait for company');
    const later = ['a', 'bb', 'ccc'].map((text) => submitted(batcher, [text]));
    await tick();
    assert.equal(engine.runs.length, 1, 'nothing else starts while the engine is busy');
    engine.open();
    assert.deepEqual(await first, ['first']);
    assert.deepEqual(await Promise.all(later), [['a'], ['bb'], ['ccc']]);
    assert.equal(engine.runs.length, 2);
    assert.deepEqual([...engine.runs[1]].sort(), ['a', 'bb', 'ccc']);
  });

  test('the next batch reaches the engine before the finished one is delivered', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine);
    engine.close();
    const first = batcher.submit(prepared(['first']));
    await tick();
    const second = submitted(batcher, ['second']);
    await tick();
    const runsWhenFirstResumes = first.then(() => engine.runs.length);
    engine.open();
    assert.equal(await runsWhenFirstResumes, 2, 'responses are written while the engine already works on the next batch');
    assert.deepEqual(await second, ['second']);
  });

  test('maxBatchSize bounds a run; a bigger request spans several runs, in order', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine, { maxBatchSize: 3 });
    const inputs = Array.from({ length: 10 }, (_, i) => word((i % 4) + 1, String.fromCharCode(97 + i)));
    const [big, small] = await Promise.all([submitted(batcher, inputs), submitted(batcher, ['zz'])]);
    assert.deepEqual(big, inputs);
    assert.deepEqual(small, ['zz']);
    assert.ok(engine.runs.every((run) => run.length <= 3));
    assert.equal(engine.runs.flat().length, 11);
    assert.equal(engine.runs.length, 4);
  });

  test('maxBatchTokens bounds inputs × the longest; a longer input runs alone', async () => {
    const engine = new CountingEngine();
    const sizes: Array<[number, number]> = [];
    const batcher = batcherFor(engine, { maxBatchTokens: 25, onBatch: (size, tokens) => sizes.push([size, tokens]) });
    const inputs = [word(10, 'a'), word(10, 'b'), word(10, 'c'), word(10, 'd'), word(40, 'e')];
    assert.deepEqual(await submitted(batcher, inputs), inputs);
    for (const run of engine.runs) assert.ok(run.length === 1 || run.length * Math.max(...run.map((text) => text.length)) <= 25, `run ${run}`);
    assert.deepEqual(sizes.sort(), [
      [1, 40],
      [2, 20],
      [2, 20],
    ]);
  });

  test('waiting inputs are grouped by length, starting from the oldest', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine, { maxBatchSize: 2 });
    engine.close();
    const blocker = submitted(batcher, ['blocker']);
    await tick();
    const lengths = [1, 50, 2, 51];
    const waiting = lengths.map((length) => submitted(batcher, [word(length)]));
    await tick();
    engine.open();
    await Promise.all([blocker, ...waiting]);
    assert.deepEqual(
      engine.runs.slice(1).map((run) => run.map((text) => text.length)),
      [
        [1, 2],
        [50, 51],
      ],
    );
  });

  test('a bad input fails only its own request', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine);
    const outcomes = await Promise.allSettled([submitted(batcher, ['good', 'fine']), submitted(batcher, ['bad']), submitted(batcher, ['also good'])]);
    assert.deepEqual(outcomes[0], { status: 'fulfilled', value: ['good', 'fine'] });
    assert.equal(outcomes[1].status, 'rejected');
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason), /bad/);
    assert.deepEqual(outcomes[2], { status: 'fulfilled', value: ['also good'] });
    assert.equal(engine.runs.length, 4, 'one merged run, then one per request');
  });

  test('an aborted request has its waiting inputs dropped and rejects with an AbortError', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine);
    engine.close();
    const blocker = submitted(batcher, ['blocker']);
    await tick();
    const controller = new AbortController();
    const abandoned = submitted(batcher, ['abandoned', 'also abandoned'], controller.signal);
    const kept = submitted(batcher, ['kept']);
    await tick();
    assert.equal(batcher.queuedInputs, 3);
    controller.abort();
    await assert.rejects(abandoned, { name: 'AbortError' });
    assert.equal(batcher.queuedInputs, 1);
    engine.open();
    assert.deepEqual(await kept, ['kept']);
    await blocker;
    assert.ok(!engine.runs.flat().some((text) => text.includes('abandoned')), 'dropped inputs never ran');

    const already = new AbortController();
    already.abort();
    await assert.rejects(submitted(batcher, ['late'], already.signal), { name: 'AbortError' });
  });

  test('a request aborted while its batch runs rejects at once; its neighbours still succeed', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine);
    engine.close();
    const controller = new AbortController();
    const leaving = submitted(batcher, ['leaving'], controller.signal);
    const staying = submitted(batcher, ['staying']);
    await tick();
    assert.equal(engine.runs.length, 1);
    controller.abort();
    await assert.rejects(leaving, { name: 'AbortError' });
    engine.open();
    assert.deepEqual(await staying, ['staying']);
  });

  test('with batching disabled each request runs alone', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine, { enabled: false, maxBatchSize: 2 });
    const requests = [['a1', 'a2', 'a3'], ['b1'], ['c1', 'c2']];
    assert.deepEqual(await Promise.all(requests.map((inputs) => submitted(batcher, inputs))), requests);
    assert.deepEqual(engine.runs, requests, 'one engine call per request, inputs as submitted');
  });

  test('dispose rejects waiting requests and refuses new ones', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine);
    engine.close();
    const running = submitted(batcher, ['running']);
    await tick();
    const waiting = submitted(batcher, ['waiting']);
    await tick();
    const disposed = batcher.dispose();
    await assert.rejects(waiting, /unloaded/);
    engine.open();
    await disposed;
    assert.deepEqual(await running, ['running'], 'the run in progress completes');
    await assert.rejects(batcher.submit(prepared(['after'])), /unloaded/);
  });

  test('beyond maxQueue waiting requests a request gets 429 queue_full with Retry-After; an idle engine takes one even with maxQueue 0', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine, { maxQueue: 1, queueTimeoutMs: 5_000 });
    engine.close();
    const running = submitted(batcher, ['running', 'second input']);
    await tick();
    assert.equal(batcher.waitingRequests, 0, 'a request with an input in a run is not waiting');
    const waiting = submitted(batcher, ['waiting']);
    assert.equal(batcher.waitingRequests, 1);
    assert.throws(
      () => batcher.checkRoom(),
      (error: unknown) => error instanceof QueueFullError,
    );
    await assert.rejects(submitted(batcher, ['refused']), (thrown: unknown) => {
      assert.ok(thrown instanceof QueueFullError);
      const error = toGatewayError(thrown);
      assert.equal(error.status, 429);
      assert.equal(error.code, 'queue_full');
      assert.match(error.message, /counting.*max_queue/);
      assert.deepEqual(error.headers, { 'retry-after': '2', 'retry-after-ms': '2000' });
      return true;
    });
    engine.open();
    assert.deepEqual(await running, ['running', 'second input']);
    assert.deepEqual(await waiting, ['waiting']);
    assert.ok(!engine.runs.flat().includes('refused'));

    batcher.checkRoom();
    const strict = batcherFor(new CountingEngine(), { maxQueue: 0 });
    strict.checkRoom();
    assert.deepEqual(await submitted(strict, ['alone']), ['alone']);
  });

  test('requests reaching an idle engine in the same tick share its first batch, whatever maxQueue says', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine, { maxQueue: 0, maxBatchSize: 8 });
    const together = await Promise.all([submitted(batcher, ['one']), submitted(batcher, ['two']), submitted(batcher, ['three'])]);
    assert.deepEqual(together, [['one'], ['two'], ['three']]);
    assert.equal(engine.runs.length, 1, 'one engine run took all three');
  });

  test('a request that waits past queueTimeoutMs gets 503 queue_timeout and its inputs are dropped; one being served is not timed out', async () => {
    const engine = new CountingEngine();
    const batcher = batcherFor(engine, { maxBatchSize: 1, queueTimeoutMs: 100 });
    engine.close();
    // Three runs of one input: the request is served from its first run on, however long the rest take.
    const served = submitted(batcher, ['one', 'two', 'three']);
    await tick();
    const late = submitted(batcher, ['late']);
    await assert.rejects(late, (thrown: unknown) => {
      assert.ok(thrown instanceof QueueTimeoutError);
      const error = toGatewayError(thrown);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'queue_timeout');
      assert.deepEqual(error.headers, { 'retry-after': '1', 'retry-after-ms': '100' });
      return true;
    });
    assert.equal(batcher.waitingRequests, 0);
    assert.equal(batcher.queuedInputs, 2, "only the served request's inputs are left");
    await new Promise((resolve) => setTimeout(resolve, 150));
    engine.open();
    assert.deepEqual(await served, ['one', 'two', 'three']);
    assert.ok(!engine.runs.flat().includes('late'), 'the timed-out input never ran');
  });
});

describe('EmbeddingBatcher on the real ONNX model (tiny-bert-embed)', () => {
  test('batched vectors equal unbatched ones', async () => {
    const folder = models.embedOnnx;
    const config = modelSchema.parse({ path: folder, type: 'embedding', intra_op_threads: 1, execution_providers: ['cpu'] });
    const model = await loadOnnxModel({ id: 'tiny-bert-embed', config, resolvedPath: folder, logger: createSilentLogger() });
    try {
      const embedding = model.embedding!;
      const batches: number[] = [];
      const batcher = new EmbeddingBatcher(embedding, {
        model: 'tiny-bert-embed',
        maxQueue: 64,
        queueTimeoutMs: 30_000,
        maxBatchSize: 4,
        maxBatchTokens: 16384,
        onBatch: (size) => batches.push(size),
      });
      const requests: EmbeddingInput[][] = Array.from({ length: 12 }, (_, i) => [
        `request ${i}: ${'a fairly long clause, '.repeat(i % 5)}end`,
        ...(i % 3 === 0 ? [`a second input for request ${i}`, [101, 2000 + i, 102]] : []),
      ]);
      const batched = await Promise.all(requests.map(async (inputs) => batcher.submit(await embedding.prepare(inputs, { truncate: true }))));
      assert.ok(batches.length < requests.flat().length, 'inputs were merged');
      assert.ok(batches.every((size) => size <= 4));
      for (const [r, inputs] of requests.entries()) {
        for (const [i, input] of inputs.entries()) {
          const alone = await embedding.embed(await embedding.prepare([input], { truncate: true }), {});
          assert.equal(batched[r].tokenCounts[i], alone.tokenCounts[0]);
          const a = batched[r].vectors[i];
          const b = alone.vectors[0];
          for (let k = 0; k < b.length; k++) assert.ok(Math.abs(a[k] - b[k]) <= 1e-5, `request ${r} input ${i} [${k}]: ${a[k]} vs ${b[k]}`);
        }
      }
      await batcher.dispose();
    } finally {
      await model.dispose();
    }
  });
});
