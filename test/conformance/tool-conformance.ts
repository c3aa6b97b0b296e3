// What every backend serving tool calls on /v1/chat/completions must do, checked with the official
// SDK on the tool-capable fixture (test/helpers/tool-model.ts). A feature some engines lack is a
// flag of the target: without it the check is reported as skipped, with the reason.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import OpenAI from 'openai';
import { checksFor, type ConformanceTarget } from './conformance-target.js';
import { TOOL_CHAT_TEMPLATE } from '../helpers/tool-model.js';
import type { ServedModel } from './served-model.js';

export interface ToolFeatures {
  /** Several calls in one reply when parallel_tool_calls allows. */
  parallelCalls: boolean;
}

/** A tool target also serves the fixture with another template (the auto-call check's single-token opener). */
export interface ToolTarget extends ConformanceTarget<ToolFeatures> {
  startWith(template: string): Promise<ServedModel>;
}

/**
 * The fixture's template with calls opened by `|`, one token of stories260K's vocabulary (Qwen's
 * `<tool_call>` is eight, which no logit_bias can put in order): a bias on it makes the tiny model
 * open a call under `auto`, after some text of its own, deterministically at temperature 0.
 */
const PIPE_OPENER_TEMPLATE = TOOL_CHAT_TEMPLATE.replaceAll('\\n<tool_call>', '\\n|');
const PIPE_TOKEN = 506;
/** Measured at temperature 0: a few tokens of text, then `|`; more and it is the first token. */
const PIPE_BIAS = 19;
/** `\n`, what goes between two calls of the fixture's syntax: favoured, it makes a reply call again. */
const NEWLINE_TOKEN = 13;

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

type FunctionCall = OpenAI.Chat.ChatCompletionMessageFunctionToolCall;

/** A completion's choice without what differs between two runs (ids, timestamps). */
function replyShape(choice: OpenAI.Chat.ChatCompletion.Choice): unknown {
  const calls = (choice.message.tool_calls ?? []) as FunctionCall[];
  return {
    content: choice.message.content ?? null,
    finish: choice.finish_reason,
    calls: calls.map((call) => ({ type: call.type, name: call.function.name, arguments: call.function.arguments })),
  };
}

/** The same request non-streamed and streamed (assembled by the SDK's helper), with the stream's tool-call deltas. */
async function bothWays(client: OpenAI, request: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming) {
  const plain = await client.chat.completions.create(request);
  const stream = client.chat.completions.stream({ ...request, stream: true });
  const deltas: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
  stream.on('chunk', (chunk) => deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? [])));
  const streamed = await stream.finalChatCompletion();
  return { plain: plain.choices[0], streamed: streamed.choices[0], deltas };
}

export function toolConformance(target: ToolTarget): void {
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

    check('under "auto" a call the model opens after some text is taken over by the grammar, streamed the same', async () => {
      const pipeServed = await target.startWith(PIPE_OPENER_TEMPLATE);
      try {
        const { plain, streamed, deltas } = await bothWays(pipeServed.client, {
          model: pipeServed.model,
          messages: [user('Weather in Paris?')],
          tools: [weather],
          parallel_tool_calls: false,
          max_tokens: 300,
          temperature: 0,
          logit_bias: { [PIPE_TOKEN]: PIPE_BIAS },
        });
        assert.equal(plain.finish_reason, 'tool_calls', JSON.stringify(plain));
        const calls = plain.message.tool_calls as FunctionCall[];
        assert.equal(calls.length, 1);
        assert.equal(calls[0].function.name, 'get_weather');
        assertWeatherArguments(calls[0].function.arguments);
        // The text before the opener is the reply's content; the opener itself is not.
        assert.equal(typeof plain.message.content, 'string');
        assert.ok(plain.message.content!.length > 0 && !plain.message.content!.includes('|'), JSON.stringify(plain.message.content));
        assert.deepEqual(replyShape(streamed), replyShape(plain));
        assert.equal(deltas[0].id, streamed.message.tool_calls![0].id);
      } finally {
        await pipeServed.close();
      }
    });

    const callingAgain = (parallel: boolean): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming => ({
      model,
      messages: [user('Weather in Paris and Rome?')],
      tools: [weather],
      tool_choice: 'required',
      parallel_tool_calls: parallel,
      max_tokens: 300,
      temperature: 0,
      logit_bias: { [NEWLINE_TOKEN]: 10 },
    });

    check(
      'parallel_tool_calls lets one reply make several calls, each with its own index and id',
      { feature: 'parallel calls', has: target.features.parallelCalls },
      async () => {
        // Favouring what goes between calls, the model calls again until max_tokens cuts the last call.
        const { plain, streamed, deltas } = await bothWays(client, callingAgain(true));
        const calls = plain.message.tool_calls as FunctionCall[];
        assert.ok(calls.length >= 2, JSON.stringify(plain));
        assert.equal(new Set(calls.map((call) => call.id)).size, calls.length);
        const complete = plain.finish_reason === 'length' ? calls.slice(0, -1) : calls;
        assert.ok(complete.length >= 2, JSON.stringify(plain));
        for (const call of complete) assertWeatherArguments(call.function.arguments);
        const started = deltas.filter((delta) => delta.id !== undefined);
        assert.deepEqual(
          started.map((delta) => delta.index),
          calls.map((_, index) => index),
        );
        assert.equal(new Set(started.map((delta) => delta.id)).size, started.length);
        assert.deepEqual(replyShape(streamed), replyShape(plain));
      },
    );

    check('parallel_tool_calls false: the grammar allows exactly one call, however the model leans', async () => {
      const { plain, streamed } = await bothWays(client, callingAgain(false));
      assert.equal(plain.finish_reason, 'tool_calls', JSON.stringify(plain));
      assert.equal(plain.message.tool_calls?.length, 1);
      assertWeatherArguments((plain.message.tool_calls![0] as FunctionCall).function.arguments);
      assert.deepEqual(replyShape(streamed), replyShape(plain));
    });

    check('a call cut by max_tokens stays in the reply as streamed, its arguments as generated, finish_reason "length"', async () => {
      // The shortest budget (of a few, at temperature 0) that cuts the call inside its arguments.
      let cut: Awaited<ReturnType<typeof bothWays>> | undefined;
      for (let maxTokens = 40; cut === undefined && maxTokens <= 90; maxTokens += 5) {
        const run = await bothWays(client, {
          model,
          messages: [user('Weather in Paris?')],
          tools: [weather],
          tool_choice: 'required',
          max_tokens: maxTokens,
          temperature: 0,
        });
        if (run.deltas.some((delta) => (delta.function?.arguments ?? '') !== '')) cut = run;
      }
      assert.ok(cut, 'no budget cut the call inside its arguments');
      const { plain, streamed, deltas } = cut;
      assert.equal(plain.finish_reason, 'length', JSON.stringify(plain));
      const calls = plain.message.tool_calls as FunctionCall[];
      assert.equal(calls?.length, 1, JSON.stringify(plain));
      assert.equal(calls[0].function.name, 'get_weather');
      assert.ok(calls[0].function.arguments.length > 0);
      // The arguments are what the stream sent, not more, not less.
      assert.equal(deltas.map((delta) => delta.function?.arguments ?? '').join(''), calls[0].function.arguments);
      assert.deepEqual(replyShape(streamed), replyShape(plain));
    });

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
