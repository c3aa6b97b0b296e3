// What every engine serving chat must do on POST /v1/responses, checked with the official SDK on
// the tool-capable fixture (test/helpers/tool-model.ts): a response with output_text and usage, a
// stream with the documented events in order, a function-tool round trip through
// function_call_output, and text.format's JSON schema.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type OpenAI from 'openai';
import { checksFor, serveDuringSuite, type ConformanceTarget } from './conformance-target.js';

export type ResponsesTarget = ConformanceTarget<object>;

type Response = OpenAI.Responses.Response;
type StreamEvent = OpenAI.Responses.ResponseStreamEvent;

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer' } },
    required: ['city', 'days'],
    additionalProperties: false,
  },
  strict: true,
};

/** Whole positive counts, at most `maxTokens` generated, and a total that is their sum. */
export function assertResponsesUsage(response: Response, maxTokens: number): void {
  const usage = response.usage;
  assert.ok(usage, 'usage is present');
  assert.ok(Number.isInteger(usage.input_tokens) && usage.input_tokens > 0, `input_tokens ${usage.input_tokens}`);
  assert.ok(usage.output_tokens > 0 && usage.output_tokens <= maxTokens, `output_tokens ${usage.output_tokens}`);
  assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);
  assert.equal(typeof usage.input_tokens_details.cached_tokens, 'number');
  assert.equal(typeof usage.output_tokens_details.reasoning_tokens, 'number');
}

/** A finished response: completed, or incomplete because max_output_tokens cut it. */
export function assertFinished(response: Response): void {
  assert.equal(response.object, 'response');
  assert.match(response.id, /^resp_/);
  assert.equal(response.error, null);
  if (response.status === 'incomplete') assert.deepEqual(response.incomplete_details, { reason: 'max_output_tokens' });
  else assert.equal(response.status, 'completed', JSON.stringify(response));
}

/**
 * The documented order of a stream's events: created, in_progress; per item added, its parts and
 * deltas, done; then completed or incomplete. Returns the events' types with runs of deltas folded.
 */
export function assertEventOrder(events: readonly StreamEvent[]): string[] {
  assert.deepEqual(
    events.map((event) => event.sequence_number),
    events.map((_, index) => index),
    'sequence numbers count from 0',
  );
  const types = events.map((event) => event.type).filter((type, index, all) => !(type.endsWith('.delta') && all[index - 1] === type));
  assert.deepEqual(types.slice(0, 2), ['response.created', 'response.in_progress']);
  assert.ok(['response.completed', 'response.incomplete'].includes(types.at(-1)!), types.at(-1));
  const items = types.slice(2, -1);
  const expected: Record<string, string[]> = {
    message: [
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
    ],
    function_call: [
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
    ],
    reasoning: [
      'response.output_item.added',
      'response.content_part.added',
      'response.reasoning_text.delta',
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
    ],
  };
  const added = events.filter((event): event is OpenAI.Responses.ResponseOutputItemAddedEvent => event.type === 'response.output_item.added');
  const wanted = added.flatMap((event) => expected[event.item.type]);
  // An empty message has no delta.
  assert.deepEqual(
    items.filter((type) => type !== 'response.output_text.delta'),
    wanted.filter((type) => type !== 'response.output_text.delta'),
  );
  return types;
}

export function responsesConformance(target: ResponsesTarget): void {
  describe(`responses conformance: ${target.name}`, () => {
    const { check, verifyKnownFailures } = checksFor(target);
    const served = serveDuringSuite(target);

    check('responses.create answers with a message item, output_text and usage', async () => {
      const response = await served.client.responses.create({ model: served.model, input: 'Tell me a story.', max_output_tokens: 8, temperature: 0 });
      assertFinished(response);
      assert.equal(response.model, served.model);
      assert.equal(response.output.length, 1);
      const [message] = response.output as OpenAI.Responses.ResponseOutputMessage[];
      assert.equal(message.type, 'message');
      assert.equal(message.role, 'assistant');
      assert.match(message.id, /^msg_/);
      const [part] = message.content as OpenAI.Responses.ResponseOutputText[];
      assert.equal(part.type, 'output_text');
      assert.deepEqual(part.annotations, []);
      assert.equal(response.output_text, part.text);
      assert.ok(response.output_text.length > 0);
      assertResponsesUsage(response, 8);
    });

    check("a stream: the documented events in order, numbered from 0, and the SDK's finalResponse() equal to the plain response", async () => {
      const body = { model: served.model, input: 'Tell me a story.', max_output_tokens: 12, temperature: 0, store: false };
      const plain = await served.client.responses.create(body);
      const stream = served.client.responses.stream(body);
      const events: StreamEvent[] = [];
      for await (const event of stream) events.push(event);
      const final = await stream.finalResponse();
      assertEventOrder(events);
      const deltas = events.filter((event) => event.type === 'response.output_text.delta').map((event) => event.delta);
      assert.equal(deltas.join(''), final.output_text);
      assert.equal(final.output_text, plain.output_text);
      assert.deepEqual(final.usage!.output_tokens, plain.usage!.output_tokens);
      const last = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
      assert.equal(last.response.id, final.id);
      assert.equal(last.response.status, plain.status);
      // The item ids of the stream are those of the final response.
      const added = events.find((event) => event.type === 'response.output_item.added') as OpenAI.Responses.ResponseOutputItemAddedEvent;
      assert.equal(added.item.id, final.output[0].id);
    });

    check('a function-tool round trip: function_call, then function_call_output, then a text answer', async () => {
      const question: OpenAI.Responses.ResponseInputItem = { role: 'user', content: 'Weather in Oslo?' };
      const body = {
        model: served.model,
        input: [question],
        tools: [weather],
        tool_choice: 'required' as const,
        parallel_tool_calls: false,
        max_output_tokens: 120,
      };
      const first = await served.client.responses.create({ ...body, temperature: 0 });
      assert.equal(first.status, 'completed', JSON.stringify(first));
      const calls = first.output.filter((item) => item.type === 'function_call');
      assert.equal(calls.length, 1, JSON.stringify(first.output));
      const [call] = calls;
      assert.match(call.id!, /^fc_/);
      assert.match(call.call_id, /^call_/);
      assert.equal(call.name, 'get_weather');
      const parsed = JSON.parse(call.arguments) as Record<string, unknown>;
      assert.deepEqual(Object.keys(parsed).sort(), ['city', 'days']);
      // Streamed, the call's argument deltas add up to the same call.
      const stream = served.client.responses.stream({ ...body, temperature: 0, store: false });
      const events: StreamEvent[] = [];
      for await (const event of stream) events.push(event);
      assertEventOrder(events);
      const streamedCall = (await stream.finalResponse()).output.find((item) => item.type === 'function_call')!;
      const argumentDeltas = events.filter((event) => event.type === 'response.function_call_arguments.delta').map((event) => event.delta);
      assert.equal(argumentDeltas.join(''), streamedCall.arguments);
      assert.equal(streamedCall.arguments, call.arguments);

      const answer = await served.client.responses.create({
        model: served.model,
        input: [
          question,
          ...(first.output as OpenAI.Responses.ResponseInputItem[]),
          { type: 'function_call_output', call_id: call.call_id, output: '{"temperature": 3}' },
        ],
        tools: [weather],
        tool_choice: 'none',
        max_output_tokens: 16,
        temperature: 0,
      });
      assertFinished(answer);
      assert.deepEqual(
        answer.output.map((item) => item.type),
        ['message'],
      );
      const questionOnly = await served.client.responses.create({
        model: served.model,
        input: [question],
        tools: [weather],
        tool_choice: 'none',
        max_output_tokens: 1,
        store: false,
      });
      assert.ok(answer.usage!.input_tokens > questionOnly.usage!.input_tokens + 10, 'the call and its result are in the prompt');
    });

    check('text.format json_schema gives JSON that parses and matches the schema', async () => {
      const response = await served.client.responses.create({
        model: served.model,
        input: 'Name a city.',
        text: {
          format: {
            type: 'json_schema',
            name: 'city',
            strict: true,
            schema: { type: 'object', properties: { name: { type: 'string', maxLength: 10 } }, required: ['name'], additionalProperties: false },
          },
        },
        max_output_tokens: 60,
        temperature: 0,
      });
      assert.equal(response.status, 'completed', JSON.stringify(response));
      const parsed = JSON.parse(response.output_text) as { name: string };
      assert.deepEqual(Object.keys(parsed), ['name']);
      assert.ok(parsed.name.length <= 10);
    });

    verifyKnownFailures();
  });
}
