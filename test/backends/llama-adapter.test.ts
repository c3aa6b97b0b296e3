// The llama.cpp adapter against the real tiny GGUF models in ../shared/models. Threads are kept at
// 1 so that these tests share a small machine politely; timings are bounds, not benchmarks.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import { loadLlamaModel } from '../../src/backends/llama/index.js';
import { type ChatMessage, type GenerationOptions, type GenerationResult, type LoadedModel } from '../../src/engine/contract.js';
import { InputTooLongError, UnsupportedFeatureError } from '../../src/engine/errors.js';
import { modelSchema } from '../../src/config/schema.js';
import { createSilentLogger } from '../../src/logger.js';
import { writeGgufReranker } from '../helpers/gguf-reranker.js';
import { OnnxReference } from '../helpers/onnx-reference.js';
import { prepareAndEmbed, preparedTokenCounts } from '../helpers/prepared-embedding.js';
import { models, sharedModels } from '../helpers/paths.js';

const skip = existsSync(sharedModels) ? false : `no test models at ${sharedModels}`;

const loaded = new Map<string, Promise<LoadedModel>>();

function load(name: string, path: string, config: Record<string, unknown>): Promise<LoadedModel> {
  let model = loaded.get(name);
  if (model === undefined) {
    model = loadLlamaModel({ id: name, config: modelSchema.parse({ path, threads: 1, ...config }), resolvedPath: path, logger: createSilentLogger() });
    loaded.set(name, model);
  }
  return model;
}

const chatml = () => load('chatml', models.storiesChatml, { type: 'chat', context_length: 2048 });
const stories = () => load('stories', models.stories, { type: 'completion', context_length: 2048 });
const storiesChat = () => load('stories-chat', models.stories, { type: 'chat', context_length: 2048 });

after(async () => {
  for (const model of loaded.values()) await (await model.catch(() => undefined))?.dispose();
});

type TestOptions = GenerationOptions & { suffix?: string };

/** Options with `onText` for the text events, the one kind most tests watch. */
function options(overrides: Partial<Omit<TestOptions, 'onEvent'> & { onText: (text: string) => void | Promise<void> }> = {}): TestOptions {
  const { onText, ...rest } = overrides;
  return {
    maxTokens: 32,
    temperature: 0,
    stop: [],
    signal: new AbortController().signal,
    ...rest,
    onEvent: onText && ((event) => (event.type === 'text' ? onText(event.text) : undefined)),
  };
}

async function generateChat(model: LoadedModel, messages: ChatMessage[], generation: TestOptions): Promise<GenerationResult> {
  return await model.chat!.generate(await model.chat!.prepareChat(messages), generation);
}

async function generateText(model: LoadedModel, prompt: string, { suffix, ...generation }: TestOptions): Promise<GenerationResult> {
  return await model.textCompletion!.generate(await model.textCompletion!.prepareText(prompt, { suffix }), generation);
}

async function countChat(model: LoadedModel, messages: ChatMessage[]): Promise<number> {
  return (await model.chat!.prepareChat(messages)).promptTokens;
}

const storyPrompt = [{ role: 'user' as const, content: 'Tell me a story about a cat.' }];

test('chat on a GGUF with a ChatML template renders with it and counts the prompt exactly', { skip }, async () => {
  const model = await chatml();
  assert.equal(model.info.device, 'cpu');
  assert.equal(model.info.contextLength, 2048);
  assert.equal(model.info.details?.chatWrapper, 'ChatML');
  assert.ok(['localBuild', 'prebuilt'].includes(String(model.info.details?.engineBuild)), 'names the llama.cpp binary in use');
  assert.equal(model.parallelism, 4);
  assert.ok(model.chat && model.textCompletion && model.tokenizer);
  const counted = await countChat(model, storyPrompt);
  const result = await generateChat(model, storyPrompt, options({ maxTokens: 24 }));
  assert.equal(result.promptTokens, counted);
  assert.equal(result.completionTokens, 24);
  assert.equal(result.finishReason, 'length');
  assert.match(result.text, /[a-z]{3}/);
  assert.doesNotMatch(result.text, /^\s/, 'a chat reply starts at its first non-blank character');
});

test('chat on a GGUF without a template uses a built-in wrapper, and all roles render', { skip }, async () => {
  const model = await storiesChat();
  assert.ok(model.chat);
  assert.equal(typeof model.info.details?.chatWrapper, 'string');
  const messages = [
    { role: 'system' as const, content: 'You tell stories.' },
    { role: 'developer' as const, content: 'Keep it short.' },
    { role: 'user' as const, content: 'Hi' },
    { role: 'assistant' as const, content: 'Hello!' },
    { role: 'tool' as const, content: '{"weather":"sunny"}', name: 'weather' },
    { role: 'user' as const, content: 'Tell me a story.' },
  ];
  const counted = await countChat(model, messages);
  const result = await generateChat(model, messages, options({ maxTokens: 16 }));
  assert.equal(result.promptTokens, counted);
  assert.ok(result.completionTokens > 0);
});

test('completion continues text coherently and counts its prompt exactly', { skip }, async () => {
  const model = await stories();
  assert.equal(model.chat, undefined);
  assert.ok(model.textCompletion);
  const result = await generateText(model, 'Once upon a time', options({ maxTokens: 20 }));
  assert.match(result.text, /^, there was a little (girl|boy)/);
  assert.equal(result.promptTokens, (await model.textCompletion!.prepareText('Once upon a time')).promptTokens);
  assert.equal(result.completionTokens, 20);
  assert.equal(result.finishReason, 'length');
});

test('a stop string ends generation, is left out, and never reaches the stream', { skip }, async () => {
  const model = await stories();
  const pieces: string[] = [];
  const result = await generateText(model, 'Once upon a time', options({ maxTokens: 48, stop: ['named Lily'], onText: (piece) => void pieces.push(piece) }));
  assert.equal(result.finishReason, 'stop');
  assert.equal(result.text, ', there was a little girl ');
  assert.equal(pieces.join(''), result.text);
  assert.ok(result.completionTokens < 48);
});

test('streamed pieces add up to the final text', { skip }, async () => {
  const model = await chatml();
  const pieces: string[] = [];
  const result = await generateChat(model, storyPrompt, options({ maxTokens: 40, temperature: 0.7, seed: 3, onText: (piece) => void pieces.push(piece) }));
  assert.ok(pieces.length > 5);
  assert.equal(pieces.join(''), result.text);
});

test('the same seed gives the same text; other seeds differ', { skip }, async () => {
  const model = await stories();
  const generate = async (seed: number) => (await generateText(model, 'Once upon a time', options({ maxTokens: 24, temperature: 0.8, seed }))).text;
  const first = await generate(42);
  assert.equal(await generate(42), first);
  const others = new Set([first, await generate(1), await generate(2), await generate(3)]);
  assert.ok(others.size >= 2, 'different seeds should usually give different text');
});

test('a JSON schema constraint gives output that parses and matches', { skip }, async () => {
  const model = await stories();
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' }, happy: { type: 'boolean' } },
    required: ['name', 'age', 'happy'],
  };
  const result = await generateText(model, 'Once upon a time', options({ maxTokens: 80, constraint: { kind: 'json_schema', schema } }));
  assert.equal(result.finishReason, 'stop');
  const value = JSON.parse(result.text) as Record<string, unknown>;
  assert.equal(typeof value.name, 'string');
  assert.ok((value.name as string).length <= 12);
  assert.ok(Number.isInteger(value.age));
  assert.equal(typeof value.happy, 'boolean');
});

test('a GBNF grammar constrains the output; a broken one or an unenforceable schema is refused', { skip }, async () => {
  const model = await stories();
  const grammar = 'root ::= ("yes" | "no") ", " [a-z]+ "."';
  const result = await generateText(model, 'Is the cat happy?', options({ maxTokens: 24, constraint: { kind: 'gbnf', grammar } }));
  assert.match(result.text, /^(yes|no), [a-z]+\.$/);
  await assert.rejects(
    generateText(model, 'x', options({ constraint: { kind: 'gbnf', grammar: 'root ::= undefined-rule' } })),
    (error: unknown) => error instanceof UnsupportedFeatureError && /invalid GBNF grammar/.test(error.message) && error.field === 'grammar',
  );
  await assert.rejects(
    generateText(model, 'x', options({ constraint: { kind: 'json_schema', schema: { type: 'string', pattern: '^a+$' } } })),
    (error: unknown) => error instanceof UnsupportedFeatureError && /pattern/.test(error.message),
  );
});

test('abort stops generation within a token or two and resolves with the partial text', { skip }, async () => {
  const model = await stories();
  const controller = new AbortController();
  let piecesAfterAbort = 0;
  let pieces = 0;
  let abortedAt = 0;
  const result = await generateText(
    model,
    'Once upon a time',
    options({
      maxTokens: 400,
      temperature: 0.8,
      seed: 7,
      signal: controller.signal,
      onText: () => {
        pieces++;
        if (controller.signal.aborted) piecesAfterAbort++;
        else if (pieces === 5) {
          abortedAt = performance.now();
          controller.abort();
        }
      },
    }),
  );
  const stoppedWithin = performance.now() - abortedAt;
  assert.ok(piecesAfterAbort <= 1, `${piecesAfterAbort} pieces arrived after the abort`);
  assert.ok(result.completionTokens <= 7, `${result.completionTokens} tokens were generated`);
  assert.equal(result.finishReason, 'stop');
  assert.ok(stoppedWithin < 1000, `took ${stoppedWithin} ms to stop`);
  await assert.rejects(generateText(model, 'Once', options({ signal: controller.signal })), { name: 'AbortError' });
});

test('four concurrent generations run at once on four sequences of one context', { skip }, async () => {
  const model = await chatml();
  const firstPieceAt: number[] = [];
  const finishedAt: number[] = [];
  const results = await Promise.all(
    [0, 1, 2, 3].map(async (index) => {
      const result = await generateChat(
        model,
        [{ role: 'user', content: `Story number ${index}` }],
        options({
          maxTokens: 48,
          temperature: 0.8,
          seed: index,
          onText: () => {
            firstPieceAt[index] ??= performance.now();
          },
        }),
      );
      finishedAt[index] = performance.now();
      return result;
    }),
  );
  assert.ok(results.every((result) => result.completionTokens === 48));
  assert.ok(Math.max(...firstPieceAt) < Math.min(...finishedAt), 'every generation had started before the first one finished');
});

test('after concurrent generations, a generation is no slower and a staggered burst of four runs at once', { skip }, async () => {
  // A fresh model of its own, so that what each sequence has cached is known.
  const model = await load('concurrency', models.storiesChatml, { type: 'chat', context_length: 2048, parallel: 4 });
  const story = [{ role: 'user' as const, content: 'Tell me a story' }];
  // The fastest of five runs: the machine is shared, so a single run says little.
  const fastest60 = async (): Promise<number> => {
    let fastest = Infinity;
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      const result = await generateChat(model, story, options({ maxTokens: 60, temperature: 0.7, seed: 1 }));
      fastest = Math.min(fastest, performance.now() - started);
      assert.equal(result.completionTokens, 60);
    }
    return fastest;
  };
  const before = await fastest60();
  const hi = [{ role: 'user' as const, content: 'Hi' }];
  await Promise.all([3, 4].map((seed) => generateChat(model, hi, options({ maxTokens: 4, temperature: 0.7, seed }))));
  const afterConcurrent = await fastest60();
  assert.ok(afterConcurrent <= 3 * before + 100, `60 tokens took ${afterConcurrent.toFixed(0)} ms after concurrent use, ${before.toFixed(0)} ms before`);

  // Every sequence now caches a conversation that the burst below shares only the template's
  // opening with, so each request of the burst must first trim its sequence's cached state.
  await Promise.all([5, 6, 7, 8].map((seed) => generateChat(model, hi, options({ maxTokens: 4, temperature: 0.7, seed }))));
  // Requests arrive one after another, as over HTTP: each starts once the previous one streams.
  // Trimming used to wait until every running generation had finished (node-llama-cpp's batch
  // loop held the context lock as long as any sequence had a token queued).
  const firstPieceAt: number[] = [];
  const finishedAt: number[] = [];
  const runs: Array<Promise<unknown>> = [];
  const start = (index: number): void => {
    runs.push(
      generateChat(
        model,
        [{ role: 'user', content: `Story number ${index}` }],
        options({
          maxTokens: 60,
          temperature: 0.8,
          seed: index,
          onText: () => {
            if (firstPieceAt[index] !== undefined) return;
            firstPieceAt[index] = performance.now();
            if (index < 3) start(index + 1);
          },
        }),
      ).then((result) => {
        finishedAt[index] = performance.now();
        return result;
      }),
    );
  };
  start(0);
  // Each run starts the next one while it runs, so once the runs known so far have settled, all are known.
  for (let known = 0; known < runs.length;) {
    known = runs.length;
    await Promise.all(runs);
  }
  assert.equal(runs.length, 4, 'each generation started the next one before the first finished');
  assert.ok(Math.max(...firstPieceAt) < Math.min(...finishedAt), `first pieces ${firstPieceAt.map(Math.round)} vs finishes ${finishedAt.map(Math.round)}`);
});

test('with one sequence, a second generation waits for it, and an abort while waiting rejects', { skip }, async () => {
  const model = await load('serial', models.stories, { type: 'completion', context_length: 256, parallel: 1 });
  assert.equal(model.parallelism, 1);
  const order: string[] = [];
  const first = generateText(model, 'Once upon a time', options({ maxTokens: 24 })).then((result) => {
    order.push('first');
    return result;
  });
  const second = generateText(
    model,
    'Once upon a time',
    options({
      maxTokens: 24,
      onText: () => {
        if (!order.includes('second started')) order.push('second started');
      },
    }),
  );
  const waiting = new AbortController();
  const abandoned = generateText(model, 'Once', options({ signal: waiting.signal }));
  waiting.abort();
  await assert.rejects(abandoned, { name: 'AbortError' });
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual(order, ['first', 'second started']);
  assert.equal(b.text, a.text, 'the second run reuses the cached prompt and still gives the same greedy text');
});

test('a JSON schema with definitions, enums, optional fields and arrays is honoured', { skip }, async () => {
  const model = await chatml();
  const schema = {
    type: 'object',
    properties: {
      title: { type: 'string', maxLength: 16 },
      mood: { enum: ['happy', 'sad'] },
      friends: { type: 'array', items: { $ref: '#/$defs/friend' }, maxItems: 2 },
      note: { type: 'string', maxLength: 8 },
    },
    required: ['title', 'mood', 'friends'],
    $defs: { friend: { type: 'object', properties: { name: { type: 'string', maxLength: 8 } }, required: ['name'] } },
  };
  for (const seed of [1, 2]) {
    const result = await generateChat(model, storyPrompt, options({ maxTokens: 120, temperature: 0.8, seed, constraint: { kind: 'json_schema', schema } }));
    assert.equal(result.finishReason, 'stop', result.text);
    const value = JSON.parse(result.text) as { title: string; mood: string; friends: Array<{ name: string }>; note?: string };
    assert.ok(value.title.length <= 16);
    assert.ok(['happy', 'sad'].includes(value.mood));
    assert.ok(Array.isArray(value.friends) && value.friends.length <= 2);
    for (const friend of value.friends) assert.equal(typeof friend.name, 'string');
    assert.ok(Object.keys(value).every((key) => key in schema.properties));
  }
});

test('logprobs report the chosen token and its alternatives', { skip }, async () => {
  const model = await stories();
  const result = await generateText(model, 'Once upon a time', options({ maxTokens: 6, topLogprobs: 3 }));
  assert.equal(result.logprobs?.length, 6);
  for (const entry of result.logprobs ?? []) {
    assert.ok(entry.logprob <= 0);
    assert.equal(entry.topLogprobs.length, 3);
    assert.equal(entry.topLogprobs[0].token, entry.token, 'at temperature 0 the chosen token is the most likely');
  }
  assert.equal(result.logprobs?.map((entry) => entry.token).join(''), result.text);
});

test('logit bias -100 bans a token', { skip }, async () => {
  const model = await stories();
  // SentencePiece spells a lone "," as "▁" then ",".
  const comma = (await model.tokenizer!.tokenize(',')).at(-1)!;
  assert.equal(await model.tokenizer!.detokenize([comma]), ',');
  const result = await generateText(model, 'Once upon a time', options({ maxTokens: 4, logitBias: { [comma]: -100 } }));
  assert.ok(!result.text.startsWith(','), result.text);
});

test('a prompt longer than the context is refused with both lengths; suffix needs FIM tokens', { skip }, async () => {
  const model = await stories();
  const long = 'the cat sat on the mat. '.repeat(400);
  await assert.rejects(
    generateText(model, long, options()),
    (error: unknown) => error instanceof InputTooLongError && /\d+ tokens long.*2048/.test(error.message),
  );
  await assert.rejects(
    generateText(model, 'def f(', options({ suffix: ')' })),
    (error: unknown) => error instanceof UnsupportedFeatureError && error.field === 'suffix' && /fill-in-the-middle/.test(error.message),
  );
});

test('GGUF embeddings: 32 dimensions, normalised unless normalize=false, token ids accepted, truncation', { skip }, async () => {
  const normalized = await load('embed', models.embedGguf, { type: 'embedding' });
  const raw = await load('embed-raw', models.embedGguf, { type: 'embedding', normalize: false });
  assert.ok(normalized.embedding && raw.embedding && normalized.tokenizer);
  assert.equal(normalized.embedding.dimensions, 32);
  assert.equal(normalized.info.dimensions, 32);
  const norm = (vector: Float32Array) => Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));

  const [unit, other] = (await prepareAndEmbed(normalized.embedding, ['Hello world!', 'A cat sat on the mat.'], { truncate: true })).vectors;
  assert.equal(unit.length, 32);
  assert.ok(Math.abs(norm(unit) - 1) < 1e-5);
  assert.ok(
    unit.some((value, index) => Math.abs(value - other[index]) > 1e-4),
    'different texts give different vectors',
  );

  const rawResult = await prepareAndEmbed(raw.embedding, ['Hello world!'], { truncate: true });
  const rawVector = rawResult.vectors[0];
  assert.ok(Math.abs(norm(rawVector) - 1) > 1e-3, 'llama.cpp vectors are not normalised');
  rawVector.forEach((value, index) => assert.ok(Math.abs(value / norm(rawVector) - unit[index]) < 1e-5));
  assert.deepEqual(rawResult.tokenCounts, [5]);

  const ids = await normalized.tokenizer.tokenize('Hello world!');
  assert.deepEqual(ids, [7592, 2088, 999]);
  const fromIds = (await prepareAndEmbed(normalized.embedding, [ids], { truncate: true })).vectors[0];
  fromIds.forEach((value, index) => assert.ok(Math.abs(value - unit[index]) < 1e-5));

  const long = 'word '.repeat(600);
  assert.deepEqual(await preparedTokenCounts(normalized.embedding, [long], true), [normalized.embedding.maxInputTokens]);
  await assert.rejects(
    prepareAndEmbed(normalized.embedding, [long], { truncate: false }),
    (error: unknown) => error instanceof InputTooLongError && /602 tokens long.*511/.test(error.message),
  );
  assert.equal((await prepareAndEmbed(normalized.embedding, [long], { truncate: true })).vectors[0].length, 32);

  for (const dimensions of [16, 768]) {
    await assert.rejects(
      load(`embed-${dimensions}`, models.embedGguf, { type: 'embedding', dimensions }),
      (error: Error) => error.message.includes(`dimensions = ${dimensions}`) && /have 32 values/.test(error.message),
    );
  }
  assert.equal((await load('embed-32', models.embedGguf, { type: 'embedding', dimensions: 32 })).info.dimensions, 32);
});

test('GGUF rerankers: the rank pooling scores of llama.cpp equal the classification head on the encoder output; sigmoid on and off', { skip }, async () => {
  const reranker = await writeGgufReranker();
  const reference = await OnnxReference.create();
  try {
    const squashed = await load('rerank', reranker.file, { type: 'rerank' });
    const raw = await load('rerank-raw', reranker.file, { type: 'rerank', sigmoid: false });
    assert.equal(squashed.info.details?.sigmoid, true);
    const query = 'pets';
    const documents = ['A cat sat on the mat.', 'Stocks fell today.', 'Dogs and cats are pets.'];
    const result = await squashed.rerank!.rerank(query, documents, { truncate: true });
    const rawResult = await raw.rerank!.rerank(query, documents, { truncate: true });
    // node-llama-cpp's pair input for a BERT vocabulary: [CLS] query [SEP] document (it has no end token).
    const rows = documents.map((document) => [101, ...reference.ids(query).slice(1, -1), 102, ...reference.ids(document).slice(1, -1)]);
    const { hidden, width, longest } = await reference.hidden(rows);
    const expected = rows.map((_, row) => reranker.logit(hidden.subarray(row * longest * width, row * longest * width + width)));
    assert.ok(new Set(expected.map((logit) => logit.toFixed(3))).size === documents.length, 'the head tells the documents apart');
    expected.forEach((logit, index) => {
      assert.ok(Math.abs(rawResult.scores[index] - logit) < 1e-3, `raw ${documents[index]}: ${rawResult.scores[index]} vs ${logit}`);
      assert.ok(Math.abs(result.scores[index] - 1 / (1 + Math.exp(-logit))) < 1e-4, `sigmoid ${documents[index]}: ${result.scores[index]}`);
    });
    assert.equal(
      result.promptTokens,
      rows.reduce((sum, row) => sum + row.length, 0),
    );
  } finally {
    await reference.dispose();
  }
});

test('llama-2-tiny-random (32k vocabulary) loads and generates', { skip }, async () => {
  const model = await load('tiny-random', models.tinyRandomLlama, { type: 'chat', context_length: 512, parallel: 2 });
  assert.equal(model.parallelism, 2);
  assert.ok((await model.tokenizer!.tokenize('Hello world')).every((id) => id < 32000));
  assert.ok((await model.tokenizer!.tokenize('Hello world')).some((id) => id > 512));
  const result = await generateChat(model, [{ role: 'user', content: 'Hello' }], options({ maxTokens: 12 }));
  assert.equal(result.completionTokens, 12);
  assert.equal(result.promptTokens, await countChat(model, [{ role: 'user', content: 'Hello' }]));
});

test('load failures say what is wrong', { skip }, async () => {
  const missing = '/nonexistent/model.gguf';
  await assert.rejects(
    loadLlamaModel({ id: 'missing', config: modelSchema.parse({ path: missing, type: 'chat' }), resolvedPath: missing, logger: createSilentLogger() }),
    /model file not found: \/nonexistent\/model\.gguf/,
  );
  await assert.rejects(
    loadLlamaModel({
      id: 'not-gguf',
      config: modelSchema.parse({ path: 'x', type: 'embedding' }),
      resolvedPath: models.embedOnnx + '/model.onnx',
      logger: createSilentLogger(),
    }),
    /model\.onnx is not a GGUF file/,
  );
  await assert.rejects(
    loadLlamaModel({
      id: 'bert-chat',
      config: modelSchema.parse({ path: 'x', type: 'chat', threads: 1 }),
      resolvedPath: models.embedGguf,
      logger: createSilentLogger(),
    }),
    /bert encoder, which cannot generate text/,
  );
  await assert.rejects(
    loadLlamaModel({
      id: 'bert-rerank',
      config: modelSchema.parse({ path: 'x', type: 'rerank', threads: 1 }),
      resolvedPath: models.embedGguf,
      logger: createSilentLogger(),
    }),
    /cannot rerank: Computing rankings is not supported for this model/,
  );
});
