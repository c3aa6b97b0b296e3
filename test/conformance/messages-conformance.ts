// What every backend serving chat must do on Anthropic's Messages API (POST /v1/messages,
// /v1/messages/count_tokens), checked with the official @anthropic-ai/sdk on the tool-capable
// fixture (test/helpers/tool-model.ts): the Message body, the stream the SDK's MessageStream
// assembles, a tool round trip, and token counting. A feature some engines lack is a flag of the
// target: without it the check asserts what that engine documents instead.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { checksFor, serveDuringSuite, type ConformanceTarget } from './conformance-target.js';

export interface MessagesFeatures {
  /** The engine says which stop string ended a reply (a remote upstream cannot: end_turn). */
  reportsStopSequence: boolean;
  /** count_tokens is the engine's exact count (a remote model's is an estimate: no tokenizer here). */
  exactTokenCount: boolean;
}

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The weather in a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer' } },
    required: ['city', 'days'],
    additionalProperties: false,
  },
};

const ask = (content: string): Anthropic.MessageParam => ({ role: 'user', content });

export function messagesConformance(target: ConformanceTarget<MessagesFeatures>): void {
  describe(`Anthropic Messages conformance: ${target.name}`, () => {
    const served = serveDuringSuite(target);
    const { check, verifyKnownFailures } = checksFor(target);
    let client: Anthropic | undefined;
    const anthropic = () => (client ??= new Anthropic({ baseURL: served.url, apiKey: 'sk-test', maxRetries: 0, timeout: 60_000 }));
    const base = () => ({ model: served.model, temperature: 0, messages: [ask('Tell me a story.')] });

    check('messages.create: a Message with text, usage and stop_reason max_tokens; countTokens counts the same prompt', async () => {
      const message = await anthropic().messages.create({ ...base(), max_tokens: 4 });
      assert.match(message.id, /^msg_/);
      assert.equal(message.type, 'message');
      assert.equal(message.role, 'assistant');
      assert.equal(message.model, served.model);
      assert.equal(message.stop_reason, 'max_tokens');
      assert.equal(message.stop_sequence, null);
      assert.equal(message.content.length, 1);
      assert.equal(message.content[0].type, 'text');
      assert.ok((message.content[0] as Anthropic.TextBlock).text.length > 0);
      assert.equal(message.usage.output_tokens, 4);
      const counted = await anthropic().messages.countTokens({ model: served.model, messages: base().messages });
      // Anthropic's input_tokens leave out the prompt tokens read from a cache.
      if (target.features.exactTokenCount) assert.equal(message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0), counted.input_tokens);
      assert.ok(counted.input_tokens > 5);
    });

    check('stop_sequences end the reply before the string: stop_reason stop_sequence and the string', async () => {
      const plain = await anthropic().messages.create({ ...base(), max_tokens: 24 });
      const text = (plain.content[0] as Anthropic.TextBlock).text;
      const stop = text.slice(6, 9);
      assert.equal(stop.length, 3, `a reply long enough: ${JSON.stringify(text)}`);
      const stopped = await anthropic().messages.create({ ...base(), max_tokens: 24, stop_sequences: [stop, 'never-written'] });
      assert.equal((stopped.content[0] as Anthropic.TextBlock).text, text.slice(0, text.indexOf(stop)));
      if (target.features.reportsStopSequence) {
        assert.equal(stopped.stop_reason, 'stop_sequence');
        assert.equal(stopped.stop_sequence, stop);
      } else {
        assert.equal(stopped.stop_reason, 'end_turn');
        assert.equal(stopped.stop_sequence, null);
      }
    });

    check('messages.stream: text events and finalMessage() equal the Message created with the same request', async () => {
      const request = { ...base(), max_tokens: 12 };
      const plain = await anthropic().messages.create(request);
      const stream = anthropic().messages.stream(request);
      const deltas: string[] = [];
      stream.on('text', (delta) => deltas.push(delta));
      const final = await stream.finalMessage();
      assert.ok(deltas.length > 1, 'the text came in several deltas');
      assert.equal(deltas.join(''), (final.content[0] as Anthropic.TextBlock).text);
      assert.deepEqual(final.content, plain.content);
      assert.equal(final.stop_reason, plain.stop_reason);
      assert.equal(final.usage.output_tokens, plain.usage.output_tokens);
      assert.equal(
        final.usage.input_tokens + (final.usage.cache_read_input_tokens ?? 0),
        plain.usage.input_tokens + (plain.usage.cache_read_input_tokens ?? 0),
      );
    });

    check('a tool round trip: tool_choice any gives a tool_use (streamed alike), its tool_result gets a text answer', async () => {
      const request = {
        ...base(),
        messages: [ask('Weather in Paris for 2 days?')],
        tools: [weather],
        tool_choice: { type: 'any' as const, disable_parallel_tool_use: true },
        max_tokens: 120,
      };
      const message = await anthropic().messages.create(request);
      assert.equal(message.stop_reason, 'tool_use');
      const uses = message.content.filter((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use');
      assert.equal(uses.length, 1, 'disable_parallel_tool_use: one call');
      assert.match(uses[0].id, /^toolu_/);
      assert.equal(uses[0].name, 'get_weather');
      const input = uses[0].input as Record<string, unknown>;
      assert.deepEqual(Object.keys(input).sort(), ['city', 'days']);
      const streamed = await anthropic().messages.stream(request).finalMessage();
      assert.equal(streamed.stop_reason, 'tool_use');
      assert.deepEqual(
        streamed.content.filter((block) => block.type === 'tool_use').map((block) => ({ ...block, id: '' })),
        uses.map((block) => ({ ...block, id: '' })),
      );
      const answer = await anthropic().messages.create({
        ...request,
        messages: [
          ...request.messages,
          { role: 'assistant', content: message.content },
          { role: 'user', content: uses.map((use) => ({ type: 'tool_result' as const, tool_use_id: use.id, content: 'Sunny, 21 C' })) },
        ],
        tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true },
      });
      assert.equal(answer.stop_reason, 'tool_use', 'a named tool is called again');
      const final = await anthropic().messages.create({
        ...request,
        messages: [
          ...request.messages,
          { role: 'assistant', content: message.content },
          {
            role: 'user',
            content: uses.map((use) => ({ type: 'tool_result' as const, tool_use_id: use.id, content: [{ type: 'text' as const, text: 'Sunny' }] })),
          },
        ],
        tool_choice: { type: 'none' },
        max_tokens: 8,
      });
      assert.equal(final.content[0].type, 'text');
      assert.ok(final.content.every((block) => block.type === 'text'));
      assert.notEqual(final.stop_reason, 'tool_use');
    });

    verifyKnownFailures();
  });
}
