// The OpenAI shapes of tool calls and thoughts, written by the one chat wire formatter: a reply's
// message.tool_calls with content null (or the text before the calls), finish_reason "tool_calls",
// and the streamed deltas (id, type and name once per call, arguments as fragments); the legacy
// `functions` API's function_call shape.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GenerationResult } from '../../src/engine/contract.js';
import { chatCompletionWire, usageOf, type StreamFrame } from '../../src/openai/generation-wire.js';

const result: GenerationResult = {
  text: '',
  reasoning: 'Paris is a city.',
  toolCalls: [
    { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
    { id: 'call_b', name: 'get_time', arguments: '{}' },
  ],
  finishReason: 'tool_calls',
  promptTokens: 5,
  completionTokens: 9,
};

test('a reply with calls: tool_calls in order, content null, reasoning_content, finish_reason tool_calls', () => {
  const body = chatCompletionWire('m', false).response([{ index: 0, text: '', result }], usageOf(5, 9)) as {
    choices: Array<{ message: Record<string, unknown>; finish_reason: string }>;
  };
  const [choice] = body.choices;
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.reasoning_content, 'Paris is a city.');
  assert.deepEqual(choice.message.tool_calls, [
    { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
  ]);
  const withText = chatCompletionWire('m', false).response([{ index: 0, text: 'Let me look.', result }], usageOf(5, 9)) as typeof body;
  assert.equal(withText.choices[0].message.content, 'Let me look.');
  const plain = chatCompletionWire('m', false).response(
    [{ index: 0, text: 'Hi', result: { ...result, toolCalls: undefined, reasoning: undefined, finishReason: 'stop' } }],
    usageOf(5, 9),
  ) as typeof body;
  assert.deepEqual(plain.choices[0].message, { role: 'assistant', content: 'Hi', refusal: null });
});

test('streamed calls: the first chunk of a call carries index, id, type and name; later ones arguments only', () => {
  const wire = chatCompletionWire('m', false);
  const delta = (frames: StreamFrame[]) => (frames[0].data as { choices: Array<{ delta: unknown; finish_reason: unknown }> }).choices[0];
  assert.deepEqual(delta(wire.streamToolCallStart(0, { index: 1, id: 'call_b', name: 'get_time' })).delta, {
    tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } }],
  });
  assert.deepEqual(delta(wire.streamToolCallArguments(0, 1, '{"a"')).delta, { tool_calls: [{ index: 1, function: { arguments: '{"a"' } }] });
  assert.deepEqual(delta(wire.streamReasoning(0, 'hmm')).delta, { reasoning_content: 'hmm' });
  assert.equal(
    delta(wire.streamFinish(0, { index: 0, text: '', result: { ...result, finishReason: 'tool_calls', logprobs: undefined } })).finish_reason,
    'tool_calls',
  );
});

test('the legacy functions API: message.function_call and finish_reason function_call', () => {
  const wire = chatCompletionWire('m', false, { legacyFunctions: true });
  const body = wire.response([{ index: 0, text: '', result: { ...result, toolCalls: result.toolCalls!.slice(0, 1) } }], usageOf(5, 9)) as {
    choices: Array<{ message: Record<string, unknown>; finish_reason: string }>;
  };
  assert.equal(body.choices[0].finish_reason, 'function_call');
  assert.deepEqual(body.choices[0].message.function_call, { name: 'get_weather', arguments: '{"city":"Paris"}' });
  assert.equal(body.choices[0].message.tool_calls, undefined);
  const start = wire.streamToolCallStart(0, { index: 0, id: 'call_a', name: 'get_weather' })[0].data as { choices: Array<{ delta: unknown }> };
  assert.deepEqual(start.choices[0].delta, { function_call: { name: 'get_weather', arguments: '' } });
});
