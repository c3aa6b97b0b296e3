// The Anthropic Messages wire: the exact event sequence of a streamed reply (thought, text, calls),
// the Message body of the same reply, and a failure after the headers as one `error` event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageStream } from '@anthropic-ai/sdk/lib/MessageStream';
import { anthropicErrorBody } from '../../src/anthropic/error-body.js';
import { parseMessagesRequest } from '../../src/anthropic/messages-request.js';
import { toChatRequest } from '../../src/anthropic/messages-translation.js';
import { messagesWire } from '../../src/anthropic/messages-wire.js';
import { toGatewayError } from '../../src/api/error-mapping.js';
import { UnsupportedFeatureError } from '../../src/engine/errors.js';
import type { GenerationResult } from '../../src/engine/contract.js';
import { errors } from '../../src/errors.js';
import { usageOf } from '../../src/openai/generation-wire.js';

const result: GenerationResult = {
  text: 'Hi',
  reasoning: 'hmm',
  toolCalls: [{ id: 'call_1', name: 'f', arguments: '{"a":1}' }],
  finishReason: 'tool_calls',
  promptTokens: 10,
  completionTokens: 7,
  cachedPromptTokens: 4,
};

test('a streamed reply: message_start, ping, one block per kind in order, message_delta with the usage, message_stop', () => {
  const wire = messagesWire('m', 10);
  const frames = [
    ...wire.streamStart(0),
    ...wire.streamReasoning(0, 'hm'),
    ...wire.streamReasoning(0, 'm'),
    ...wire.streamDelta(0, ''),
    ...wire.streamDelta(0, 'Hi'),
    ...wire.streamToolCallStart(0, { index: 0, id: 'call_1', name: 'f' }),
    ...wire.streamToolCallArguments(0, 0, '{"a":1}'),
    ...wire.streamFinish(0, { index: 0, text: 'Hi', result }),
    ...wire.streamEnd([{ index: 0, text: 'Hi', result }], usageOf(10, 7, 4)),
  ];
  for (const frame of frames) assert.equal(frame.event, (frame.data as { type: string }).type, 'every frame is a named event');
  assert.deepEqual(
    frames.slice(2).map((frame) => frame.data),
    [
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'm' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '', citations: null } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hi' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {}, caller: { type: 'direct' } } },
      { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } },
      { type: 'content_block_stop', index: 2 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null, container: null },
        usage: {
          input_tokens: 6,
          output_tokens: 7,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 4,
          output_tokens_details: null,
          server_tool_use: null,
        },
      },
      { type: 'message_stop' },
    ],
  );
  assert.deepEqual(
    frames.slice(0, 2).map((frame) => frame.event),
    ['message_start', 'ping'],
  );
  const body = wire.response([{ index: 0, text: 'Hi', result }], usageOf(10, 7, 4)) as { id: string; content: unknown[]; stop_reason: string };
  assert.match(body.id, /^msg_[0-9a-f]{24}$/);
  assert.deepEqual(body.content, [
    { type: 'thinking', thinking: 'hmm', signature: '' },
    { type: 'text', text: 'Hi', citations: null },
    { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 }, caller: { type: 'direct' } },
  ]);
});

test('an empty reply still has its text block; a stop string is stop_sequence; a failure is one error event', () => {
  const wire = messagesWire('m', 3);
  const stopped: GenerationResult = { text: '', finishReason: 'stop', stopSequence: 'END', promptTokens: 3, completionTokens: 1 };
  assert.deepEqual(
    wire.streamFinish(0, { index: 0, text: '', result: stopped }).map((frame) => frame.event),
    ['content_block_start', 'content_block_stop'],
  );
  const body = wire.response([{ index: 0, text: '', result: stopped }], usageOf(3, 1)) as Record<string, unknown>;
  assert.deepEqual([body.content, body.stop_reason, body.stop_sequence], [[{ type: 'text', text: '', citations: null }], 'stop_sequence', 'END']);
  assert.deepEqual(wire.streamError(errors.unavailable('busy', 1000)), [
    { event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'busy' } } },
  ]);
});

test("an error from below names the Anthropic field: in the message (Anthropic's body has no param), renamed from the engine's", () => {
  const request = parseMessagesRequest({ model: 'm', max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }], thinking: { type: 'disabled' } });
  const { wireNames: names } = toChatRequest(request, { maxImageBytes: 1 << 20, maxImagesPerRequest: 4 });
  const effort = toGatewayError(new UnsupportedFeatureError("model 'm' on llama-server does not take reasoning_effort with images", 'reasoning_effort'), names);
  assert.equal(anthropicErrorBody(effort).error.message, "model 'm' on llama-server does not take thinking with images");
  const budget = toGatewayError(new UnsupportedFeatureError("model 'm' on llama-server does not take a thought budget with images", 'thinkingTokens'), names);
  assert.equal(anthropicErrorBody(budget).error.message, "model 'm' on llama-server does not take a thought budget with images (thinking.budget_tokens)");
  const named = errors.invalidRequest("Invalid 'messages[2].content[0]': bad", 'messages[2].content[0]');
  assert.equal(anthropicErrorBody(named).error.message, "Invalid 'messages[2].content[0]': bad");
  const unnamed = errors.invalidRequest('The image could not be decoded.', 'messages[2].content[0]');
  assert.equal(anthropicErrorBody(unnamed).error.message, 'The image could not be decoded. (messages[2].content[0])');
});

test('the Message and message_start carry the fields the SDK types declare (null where nothing applies)', () => {
  const wire = messagesWire('m', 10);
  const start = wire.streamStart(0)[0].data as { message: Record<string, unknown> };
  const body = wire.response([{ index: 0, text: 'Hi', result }], usageOf(10, 7, 4)) as Record<string, unknown>;
  for (const message of [start.message, body]) {
    assert.deepEqual([message.container, message.stop_details, message.diagnostics], [null, null, null]);
    const usage = message.usage as Record<string, unknown>;
    assert.deepEqual(
      [usage.cache_creation, usage.inference_geo, usage.output_tokens_details, usage.server_tool_use, usage.service_tier, usage.speed],
      [null, null, null, null, 'standard', null],
    );
  }
});

test('streamed calls: each argument fragment goes to its own block, and text after a call is kept', () => {
  const wire = messagesWire('m', 10);
  const frames = [
    ...wire.streamToolCallStart(0, { index: 0, id: 'call_a', name: 'f' }),
    ...wire.streamToolCallArguments(0, 0, '{"a"'),
    ...wire.streamToolCallStart(0, { index: 1, id: 'call_b', name: 'g' }),
    ...wire.streamToolCallArguments(0, 1, '{"b":2}'),
    ...wire.streamToolCallArguments(0, 0, ':1}'),
    ...wire.streamDelta(0, 'after'),
    ...wire.streamToolCallArguments(0, 1, ' '),
    ...wire.streamFinish(0, { index: 0, text: 'after', result }),
  ].map((frame) => frame.data as { type: string; index: number; delta?: Record<string, unknown> });
  const deltas = (index: number) => frames.filter((frame) => frame.type === 'content_block_delta' && frame.index === index).map((frame) => frame.delta);
  assert.deepEqual(deltas(0), [
    { type: 'input_json_delta', partial_json: '{"a"' },
    { type: 'input_json_delta', partial_json: ':1}' },
  ]);
  assert.deepEqual(deltas(1), [
    { type: 'input_json_delta', partial_json: '{"b":2}' },
    { type: 'input_json_delta', partial_json: ' ' },
  ]);
  assert.deepEqual(deltas(2), [{ type: 'text_delta', text: 'after' }]);
  for (const index of [0, 1, 2]) {
    const events = frames.filter((frame) => frame.index === index).map((frame) => frame.type);
    assert.equal(events[0], 'content_block_start');
    assert.equal(events.filter((type) => type === 'content_block_stop').length, 1, `block ${index} is closed once`);
  }
});

test("the SDK's MessageStream puts every fragment of interleaved calls into its own call", async () => {
  const wire = messagesWire('m', 10);
  const ended: GenerationResult = { ...result, reasoning: undefined, text: 'after' };
  const frames = [
    ...wire.streamStart(0),
    ...wire.streamToolCallStart(0, { index: 0, id: 'call_a', name: 'f' }),
    ...wire.streamToolCallArguments(0, 0, '{"a"'),
    ...wire.streamToolCallStart(0, { index: 1, id: 'call_b', name: 'g' }),
    ...wire.streamToolCallArguments(0, 1, '{"b":2}'),
    ...wire.streamToolCallArguments(0, 0, ':1}'),
    ...wire.streamDelta(0, 'after'),
    ...wire.streamFinish(0, { index: 0, text: 'after', result: ended }),
    ...wire.streamEnd([{ index: 0, text: 'after', result: ended }], usageOf(10, 7)),
  ];
  const lines = frames.map((frame) => `${JSON.stringify(frame.data)}\n`).join('');
  const stream = MessageStream.fromReadableStream(new Blob([lines]).stream());
  const message = await stream.finalMessage();
  assert.deepEqual(
    message.content.map((block) => (block.type === 'tool_use' ? block.input : block.type === 'text' ? block.text : block.type)),
    [{ a: 1 }, { b: 2 }, 'after'],
  );
});

test('thinking.display "omitted": the thought block comes, empty', () => {
  const wire = messagesWire('m', 10, { omitThinking: true });
  const frames = [...wire.streamReasoning(0, 'hm'), ...wire.streamReasoning(0, 'm'), ...wire.streamDelta(0, 'Hi')].map((frame) => frame.data);
  assert.deepEqual(frames.slice(0, 2), [
    { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
    { type: 'content_block_stop', index: 0 },
  ]);
  const body = wire.response([{ index: 0, text: 'Hi', result }], usageOf(10, 7)) as { content: unknown[] };
  assert.deepEqual(body.content[0], { type: 'thinking', thinking: '', signature: '' });
});
