// The Responses wire's frames as the official SDK's stream parser reads them, for what the end-to-end
// suites cannot provoke at will: a failure after the stream's headers went out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stream } from 'openai/core/streaming';
import type OpenAI from 'openai';
import { errors } from '../../src/errors.js';
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
