// The model-call handle's admission and prompt preparation, on a stand-in engine (the HTTP layer
// and the real engines are tested end to end): a request's n choices are admitted as one request,
// a full queue and a queue wait past its limit fail with the wire's 429 and 503 and Retry-After,
// one failing choice stops its siblings, and a prompt is prepared once for all its choices.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { toGatewayError } from '../../src/api/error-mapping.js';
import { modelSchema } from '../../src/config/schema.js';
import type { GenerationOptions, LoadedModel, PreparedPrompt } from '../../src/engine/contract.js';
import { QueueFullError, QueueTimeoutError } from '../../src/scheduler/admission-errors.js';
import { handleOf, type ModelHandle } from '../../src/model-call/model-calls.js';
import type { ModelEntry } from '../../src/registry/model-registry.js';
import { SlotScheduler } from '../../src/scheduler/slot-scheduler.js';

interface StandInPrompt extends PreparedPrompt {
  text: string;
}

/** A chat engine that answers with the prompt, and counts how often it prepared and generated. */
function standInChat(gate?: Promise<void>) {
  const calls = { prepared: 0, generated: [] as Array<{ prompt: PreparedPrompt; seed?: number }> };
  const model: LoadedModel = {
    info: { device: 'cpu', contextLength: 64 },
    parallelism: 1,
    chat: {
      prepareChat: async (messages) => {
        calls.prepared++;
        return { text: messages.map((message) => message.content).join(' '), promptTokens: 3 } satisfies StandInPrompt;
      },
      generate: async (prompt, options: GenerationOptions) => {
        calls.generated.push({ prompt, seed: options.seed });
        await gate;
        if (options.signal.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        if (options.seed === 102) throw new Error('this choice fails');
        const text = (prompt as StandInPrompt).text;
        await options.onEvent?.({ type: 'text', text });
        return { text, finishReason: 'stop', promptTokens: prompt.promptTokens, completionTokens: 1 };
      },
    },
    dispose: async () => undefined,
  };
  return { model, calls };
}

function handle(model: LoadedModel, scheduler: SlotScheduler): ModelHandle {
  const entry = { id: 'm', type: 'chat', config: modelSchema.parse({ type: 'chat', path: 'x.gguf' }) } as unknown as ModelEntry;
  return handleOf({ entry, model, scheduler, release: () => undefined });
}

const options = { maxTokens: 4, temperature: 0, stop: [] };

test('n = 4 on one slot with max_queue = 1 is one request: every choice runs, seeds seed + i, the prompt prepared once', async () => {
  const { model, calls } = standInChat();
  const scheduler = new SlotScheduler({ model: 'm', slots: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
  const model_ = handle(model, scheduler);
  const prompt = await model_.prepareChat([{ role: 'user', content: 'Hi' }]);
  let waited: number | undefined;
  const results = await model_.generate({
    prompts: [prompt],
    choicesPerPrompt: 4,
    options: { ...options, seed: 7 },
    signal: new AbortController().signal,
    onAdmitted: (ms) => (waited = ms),
  });
  assert.equal(results.length, 4);
  assert.equal(calls.prepared, 1);
  assert.deepEqual(
    calls.generated.map((call) => call.seed),
    [7, 8, 9, 10],
  );
  assert.ok(
    calls.generated.every((call) => call.prompt === prompt),
    'every choice generates from the one prepared prompt',
  );
  assert.ok(waited !== undefined && waited >= 0);
  assert.equal(scheduler.activeCount, 0);
});

test('a full queue is QueueFullError: a 429 queue_full with Retry-After', async () => {
  let open!: () => void;
  const { model } = standInChat(new Promise<void>((resolve) => (open = resolve)));
  const scheduler = new SlotScheduler({ model: 'm', slots: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
  const model_ = handle(model, scheduler);
  const prompt = await model_.prepareChat([{ role: 'user', content: 'Hi' }]);
  const request = () => model_.generate({ prompts: [prompt], choicesPerPrompt: 2, options, signal: new AbortController().signal });
  const running = request();
  const waiting = request();
  await nextTurn();
  await assert.rejects(request(), (error: unknown) => {
    assert.ok(error instanceof QueueFullError);
    const wire = toGatewayError(error);
    assert.equal(wire.status, 429);
    assert.equal(wire.code, 'queue_full');
    assert.ok(Number(wire.headers['retry-after']) >= 1);
    return true;
  });
  open();
  assert.equal((await running).length, 2);
  assert.equal((await waiting).length, 2);
});

test('a wait past queue_timeout is QueueTimeoutError: a 503 queue_timeout with Retry-After', async () => {
  let open!: () => void;
  const { model } = standInChat(new Promise<void>((resolve) => (open = resolve)));
  const scheduler = new SlotScheduler({ model: 'm', slots: 1, maxQueue: 4, queueTimeoutMs: 50 });
  const model_ = handle(model, scheduler);
  const prompt = await model_.prepareChat([{ role: 'user', content: 'Hi' }]);
  const running = model_.generate({ prompts: [prompt], choicesPerPrompt: 1, options, signal: new AbortController().signal });
  await assert.rejects(model_.generate({ prompts: [prompt], choicesPerPrompt: 1, options, signal: new AbortController().signal }), (error: unknown) => {
    assert.ok(error instanceof QueueTimeoutError);
    const wire = toGatewayError(error);
    assert.equal(wire.status, 503);
    assert.equal(wire.code, 'queue_timeout');
    assert.ok(Number(wire.headers['retry-after']) >= 1);
    return true;
  });
  open();
  await running;
  assert.equal(scheduler.activeCount, 0);
});

test('one failing choice stops its siblings and fails the request; the slots are free again', async () => {
  const { model, calls } = standInChat();
  const scheduler = new SlotScheduler({ model: 'm', slots: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
  const model_ = handle(model, scheduler);
  const prompt = await model_.prepareChat([{ role: 'user', content: 'Hi' }]);
  // Seeds 100, 101, 102 (fails), 103: the fourth choice never starts.
  await assert.rejects(
    model_.generate({ prompts: [prompt], choicesPerPrompt: 4, options: { ...options, seed: 100 }, signal: new AbortController().signal }),
    /this choice fails/,
  );
  assert.deepEqual(
    calls.generated.map((call) => call.seed),
    [100, 101, 102],
  );
  assert.equal(scheduler.activeCount, 0);
});

test('an engine without acceptsTools never sees tools: the request or a tool history is an UnsupportedFeatureError naming the field', async () => {
  const { model, calls } = standInChat();
  const model_ = handle(model, new SlotScheduler({ model: 'm', slots: 1, maxQueue: 1, queueTimeoutMs: 10_000 }));
  const tools = { definitions: [{ name: 'f', parameters: { type: 'object', properties: {} } }], choice: { kind: 'auto' as const }, parallel: true };
  await assert.rejects(
    async () => await model_.prepareChat([{ role: 'user', content: 'Hi' }], { tools }),
    (error: unknown) => {
      const wire = toGatewayError(error, {});
      assert.equal(wire.status, 400);
      assert.equal(wire.param, 'tools');
      assert.match(wire.message, /does not support tool calling/);
      return true;
    },
  );
  const history = [
    { role: 'user' as const, content: 'Hi' },
    { role: 'assistant' as const, content: '', toolCalls: [{ id: 'call_1', name: 'f', arguments: '{}' }] },
    { role: 'tool' as const, content: '42', toolCallId: 'call_1' },
  ];
  await assert.rejects(
    async () => await model_.prepareChat(history),
    (error: unknown) => toGatewayError(error, {}).param === 'messages[1]',
  );
  assert.equal(calls.prepared, 0);
});
