// What every backend serving tool calls on /v1/chat/completions must do, checked with the official
// SDK on the tool-capable fixture (test/helpers/tool-model.ts). A feature some engines lack is a
// flag of the target: without it the check is reported as skipped, with the reason.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import OpenAI from 'openai';
import { checksFor, type ConformanceTarget } from './conformance-target.js';
import type { ServedModel } from './served-model.js';

export interface ToolFeatures {
  /** Several calls in one reply when parallel_tool_calls allows. */
  parallelCalls: boolean;
}

const weather: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer' } },
      required: ['city', 'days'],
      additionalProperties: false,
    },
  },
};
const time: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['UTC', 'CET'] } }, required: ['zone'] } },
};
const user = (content: string): OpenAI.Chat.ChatCompletionMessageParam => ({ role: 'user', content });

/** Arguments that parse and hold what get_weather's schema requires. */
function assertWeatherArguments(text: string): void {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed).sort(), ['city', 'days'], text);
  assert.equal(typeof parsed.city, 'string');
  assert.ok((parsed.city as string).length <= 12, text);
  assert.ok(Number.isInteger(parsed.days), text);
}

export function toolConformance(target: ConformanceTarget<ToolFeatures>): void {
  describe(`tool conformance: ${target.name}`, () => {
    const { check, verifyKnownFailures } = checksFor(target);
    let served: ServedModel;
    let client: OpenAI;
    let model: string;
    before(async () => {
      served = await target.start();
      ({ client, model } = served);
    });
    after(() => served?.close());

    check('tool_choice "required" always gives a call whose arguments match the schema', async () => {
      for (const seed of [1, 2, 3]) {
        const completion = await client.chat.completions.create({
          model,
          messages: [user('What is the weather in Paris?')],
          tools: [weather],
          tool_choice: 'required',
          parallel_tool_calls: false,
          max_tokens: 120,
          temperature: 1,
          seed,
        });
        const [choice] = completion.choices;
        assert.equal(choice.finish_reason, 'tool_calls', JSON.stringify(choice));
        assert.equal(choice.message.tool_calls?.length, 1);
        const call = choice.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
        assert.match(call.id, /^call_/);
        assert.equal(call.type, 'function');
        assert.equal(call.function.name, 'get_weather');
        assertWeatherArguments(call.function.arguments);
        assert.equal(choice.message.content, null);
      }
    });

    check('a named tool_choice calls exactly that function, never another', async () => {
      const completion = await client.chat.completions.create({
        model,
        messages: [user('What time is it?')],
        tools: [weather, time],
        tool_choice: { type: 'function', function: { name: 'get_time' } },
        max_tokens: 120,
        temperature: 1,
        seed: 4,
      });
      const calls = completion.choices[0].message.tool_calls as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
      assert.equal(calls.length, 1);
      assert.equal(calls[0].function.name, 'get_time');
      assert.ok(['UTC', 'CET'].includes((JSON.parse(calls[0].function.arguments) as { zone: string }).zone));
    });

    check("a streamed call, assembled by the SDK's stream helper, equals the deltas' shape", async () => {
      const stream = client.chat.completions.stream({
        model,
        messages: [user('Weather in Rome?')],
        tools: [weather],
        tool_choice: 'required',
        parallel_tool_calls: false,
        max_tokens: 120,
        seed: 5,
      });
      const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
      stream.on('chunk', (chunk) => chunks.push(chunk));
      const completion = await stream.finalChatCompletion();
      const call = completion.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
      assert.equal(completion.choices[0].finish_reason, 'tool_calls');
      assert.equal(call.function.name, 'get_weather');
      assertWeatherArguments(call.function.arguments);
      const deltas = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      assert.ok(deltas.length >= 2, 'the arguments come as fragments');
      assert.equal(deltas.filter((delta) => delta.id !== undefined).length, 1, 'the id once');
      assert.equal(deltas[0].id, call.id);
      assert.equal(deltas[0].function?.name, 'get_weather');
      assert.ok(deltas.slice(1).every((delta) => delta.function?.name === undefined && delta.index === 0));
    });

    check('a round trip: call, tool result, then a text answer under tool_choice "none"', async () => {
      const first = await client.chat.completions.create({
        model,
        messages: [user('Weather in Oslo?')],
        tools: [weather],
        tool_choice: 'required',
        max_tokens: 120,
        seed: 6,
      });
      const call = first.choices[0].message.tool_calls![0];
      const answer = await client.chat.completions.create({
        model,
        messages: [user('Weather in Oslo?'), first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 3}' }],
        tools: [weather],
        tool_choice: 'none',
        max_tokens: 16,
        seed: 6,
      });
      assert.equal(typeof answer.choices[0].message.content, 'string');
      assert.equal(answer.choices[0].message.tool_calls, undefined);
      assert.ok(['stop', 'length'].includes(answer.choices[0].finish_reason));
    });

    check('under "auto" a reply is text or calls that match their schemas', async () => {
      for (const seed of [7, 8]) {
        const completion = await client.chat.completions.create({ model, messages: [user('Weather?')], tools: [weather], max_tokens: 60, seed });
        for (const call of (completion.choices[0].message.tool_calls ?? []) as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[])
          assertWeatherArguments(call.function.arguments);
      }
    });

    check(
      'parallel_tool_calls lets one reply make several calls, each matching its schema',
      { feature: 'parallel calls', has: target.features.parallelCalls },
      async () => {
        let most = 0;
        for (const seed of [9, 10, 11, 12]) {
          const completion = await client.chat.completions.create({
            model,
            messages: [user('Weather and time?')],
            tools: [weather, time],
            tool_choice: 'required',
            max_tokens: 200,
            seed,
          });
          const calls = (completion.choices[0].message.tool_calls ?? []) as OpenAI.Chat.ChatCompletionMessageFunctionToolCall[];
          for (const call of calls) if (call.function.name === 'get_weather') assertWeatherArguments(call.function.arguments);
          most = Math.max(most, calls.length);
        }
        assert.ok(most >= 1);
      },
    );

    check('a schema keyword the engine cannot enforce is a 400 naming the tool and the keyword', async () => {
      const tool: OpenAI.Chat.ChatCompletionTool = {
        type: 'function',
        function: { name: 'pick', parameters: { type: 'object', properties: { n: { type: 'number', minimum: 3 } } } },
      };
      await assert.rejects(
        client.chat.completions.create({ model, messages: [user('Pick')], tools: [tool], tool_choice: 'required', max_tokens: 20 }),
        (error: unknown) => {
          assert.ok(error instanceof OpenAI.BadRequestError, String(error));
          assert.match(error.message, /pick/);
          assert.match(error.message, /minimum/);
          return true;
        },
      );
    });

    verifyKnownFailures();
  });
}
