// The Responses wire's frames as the official SDK's stream parser reads them, for what the end-to-end
// suites cannot provoke at will: a failure after the stream's headers went out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stream } from 'openai/core/streaming';
import type OpenAI from 'openai';
import { errors } from '../../src/errors.js';
import type { GenerationResult } from '../../src/engine/contract.js';
import type { StreamFrame } from '../../src/openai/generation-wire.js';
import { responsesWire, type ResponseEcho } from '../../src/openai/responses-wire.js';

const echo: ResponseEcho = {
  instructions: null,
  tools: [],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  temperature: null,
  top_p: null,
  max_output_tokens: null,
  text: { format: { type: 'text' } },
  reasoning: { effort: null, summary: null },
  metadata: {},
  previous_response_id: null,
  store: true,
  user: null,
};

/** The frames as SSE text, as the gateway's SseStream writes named events. */
function sseText(frames: StreamFrame[]): string {
  return frames.map((frame) => `event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`).join('');
}

test('a failure mid-stream is response.failed with the failed response, then an error event, numbered on', async () => {
  const wire = responsesWire('model', echo);
  const frames = [
    ...wire.streamStart(0),
    ...wire.streamDelta(0, 'Once'),
    ...wire.streamError(errors.unavailable('The server shut down before this request finished; retry it.', 1_000, 'shutting_down')),
  ];
  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  for await (const event of Stream.fromSSEResponse<OpenAI.Responses.ResponseStreamEvent>(new Response(sseText(frames)), new AbortController()))
    events.push(event);
  assert.deepEqual(
    events.map((event) => [event.type, event.sequence_number]),
    [
      ['response.created', 0],
      ['response.in_progress', 1],
      ['response.output_item.added', 2],
      ['response.content_part.added', 3],
      ['response.output_text.delta', 4],
      ['response.failed', 5],
      ['error', 6],
    ],
  );
  const failed = events[5] as OpenAI.Responses.ResponseFailedEvent;
  assert.equal(failed.response.id, wire.id);
  assert.equal(failed.response.status, 'failed');
  assert.deepEqual(failed.response.error, { code: 'server_error', message: 'The server shut down before this request finished; retry it.' });
  assert.deepEqual(events[6], {
    type: 'error',
    sequence_number: 6,
    code: 'shutting_down',
    message: 'The server shut down before this request finished; retry it.',
    param: null,
  });
});

const usage = { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 };
type Data = Record<string, unknown> & { type: string; item_id?: string; output_index?: number; item?: { id: string; type: string } };
const dataOf = (frames: StreamFrame[]) => frames.map((frame) => frame.data as Data);

/**
 * Drives the wire as the runner does and checks what every such stream must hold: each added item
 * has an id of its own, every event about an item names the id and output_index it was added with,
 * and response.completed (and the stored response) lists the items as they were streamed.
 */
function streamed(drive: (wire: ReturnType<typeof responsesWire>) => StreamFrame[], result: GenerationResult) {
  const wire = responsesWire('model', echo);
  const frames = [...wire.streamStart(0), ...drive(wire), ...wire.streamFinish(0, { index: 0, text: result.text, result })];
  const stored = wire.response([{ index: 0, text: result.text, result }], usage);
  const events = dataOf([...frames, ...wire.streamEnd([{ index: 0, text: result.text, result }], usage)]);
  const added = events.filter((event) => event.type === 'response.output_item.added').map((event) => event.item!);
  assert.equal(new Set(added.map((item) => item.id)).size, added.length, 'item ids are unique');
  for (const event of events)
    if (event.item_id !== undefined) assert.equal(event.item_id, added[event.output_index!].id, `${event.type} names the item at its output_index`);
  const done = events.filter((event) => event.type === 'response.output_item.done').map((event) => event.item!);
  assert.equal(done.length, added.length, 'every item is closed once');
  const completed = (events.at(-1)!.response as { output: Array<{ id: string; type: string }> }).output;
  assert.deepEqual(
    completed,
    [...done].sort((a, b) => added.findIndex((item) => item.id === a.id) - added.findIndex((item) => item.id === b.id)),
  );
  assert.deepEqual(stored.output, completed, 'the stored response lists the streamed items');
  return { events, added, completed };
}

const call = (index: number, name: string) => ({ index, id: `call_${index}`, name });

test('interleaved argument fragments of parallel calls go to their own items', () => {
  const { events, completed } = streamed(
    (wire) => [
      ...wire.streamToolCallStart(0, call(0, 'first')),
      ...wire.streamToolCallStart(0, call(1, 'second')),
      ...wire.streamToolCallArguments(0, 0, '{"a":'),
      ...wire.streamToolCallArguments(0, 1, '{"b":'),
      ...wire.streamToolCallArguments(0, 0, '1}'),
      ...wire.streamToolCallArguments(0, 1, '2}'),
    ],
    {
      text: '',
      toolCalls: [
        { id: 'call_0', name: 'first', arguments: '{"a":1}' },
        { id: 'call_1', name: 'second', arguments: '{"b":2}' },
      ],
      finishReason: 'tool_calls',
      promptTokens: 3,
      completionTokens: 5,
    },
  );
  assert.deepEqual(
    completed.map((item) => [item.type, (item as { call_id?: string }).call_id, (item as { arguments?: string }).arguments]),
    [
      ['function_call', 'call_0', '{"a":1}'],
      ['function_call', 'call_1', '{"b":2}'],
    ],
  );
  const argumentsDone = events.filter((event) => event.type === 'response.function_call_arguments.done');
  assert.deepEqual(
    argumentsDone.map((event) => [event.output_index, event.name, event.arguments]),
    [
      [0, 'first', '{"a":1}'],
      [1, 'second', '{"b":2}'],
    ],
  );
});

test('text after a call is a message item of its own, after the call', () => {
  const { completed } = streamed(
    (wire) => [...wire.streamToolCallStart(0, call(0, 'first')), ...wire.streamToolCallArguments(0, 0, '{}'), ...wire.streamDelta(0, 'Done.')],
    { text: 'Done.', toolCalls: [{ id: 'call_0', name: 'first', arguments: '{}' }], finishReason: 'tool_calls', promptTokens: 3, completionTokens: 5 },
  );
  assert.deepEqual(
    completed.map((item) => item.type),
    ['function_call', 'message'],
  );
});

test('reasoning after text opens a new reasoning item with an id of its own', () => {
  const { completed } = streamed(
    (wire) => [...wire.streamReasoning(0, 'First.'), ...wire.streamDelta(0, 'Hi'), ...wire.streamReasoning(0, 'Again.'), ...wire.streamDelta(0, ' there')],
    { text: 'Hi there', reasoning: 'First.Again.', finishReason: 'stop', promptTokens: 3, completionTokens: 5 },
  );
  assert.deepEqual(
    completed.map((item) => [item.type, JSON.stringify((item as { content?: unknown }).content)]),
    [
      ['reasoning', JSON.stringify([{ type: 'reasoning_text', text: 'First.' }])],
      ['message', JSON.stringify([{ type: 'output_text', text: 'Hi', annotations: [], logprobs: [] }])],
      ['reasoning', JSON.stringify([{ type: 'reasoning_text', text: 'Again.' }])],
      ['message', JSON.stringify([{ type: 'output_text', text: ' there', annotations: [], logprobs: [] }])],
    ],
  );
});

test('a reply streamed in the usual order closes each item before the next opens', () => {
  const { events } = streamed(
    (wire) => [
      ...wire.streamReasoning(0, 'Hm.'),
      ...wire.streamDelta(0, 'Hi'),
      ...wire.streamToolCallStart(0, call(0, 'first')),
      ...wire.streamToolCallArguments(0, 0, '{}'),
    ],
    {
      text: 'Hi',
      reasoning: 'Hm.',
      toolCalls: [{ id: 'call_0', name: 'first', arguments: '{}' }],
      finishReason: 'tool_calls',
      promptTokens: 3,
      completionTokens: 5,
    },
  );
  const lifecycle = events.filter((event) => event.type === 'response.output_item.added' || event.type === 'response.output_item.done');
  assert.deepEqual(
    lifecycle.map((event) => [event.type, event.output_index]),
    [
      ['response.output_item.added', 0],
      ['response.output_item.done', 0],
      ['response.output_item.added', 1],
      ['response.output_item.done', 1],
      ['response.output_item.added', 2],
      ['response.output_item.done', 2],
    ],
  );
});
