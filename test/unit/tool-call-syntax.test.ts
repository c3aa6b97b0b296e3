// The call syntax read from a chat wrapper and the reader of a grammar-bound call reply, on the
// syntaxes the fixture does not have: a section marker before the calls (DeepSeek V3's), an opening
// that starts with whitespace (Harmony's, Qwen's with a line break before the call), no closing
// marker at all (Functionary's).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FunctionaryChatWrapper, HarmonyChatWrapper, QwenChatWrapper, type ChatWrapper } from 'node-llama-cpp';
import type { GenerationEvent } from '../../src/engine/contract.js';
import { UnsupportedFeatureError } from '../../src/engine/errors.js';
import { callSyntaxOf, type CallSyntax } from '../../src/backends/tool-calls/call-syntax.js';
import { toolCallGrammar } from '../../src/backends/tool-calls/tool-call-grammar.js';
import { ToolCallReader } from '../../src/backends/tool-calls/tool-call-reader.js';

/** DeepSeek V3's template as node-llama-cpp's Jinja wrapper infers it: a section marker, then each call. */
const deepSeekStyle = {
  settings: {
    functions: {
      call: { prefix: '<｜tool▁call▁begin｜>function<｜tool▁sep｜>', paramsPrefix: '\n```json\n', suffix: '\n```<｜tool▁call▁end｜>' },
      parallelism: { call: { sectionPrefix: '<｜tool▁calls▁begin｜>', betweenCalls: '\n' }, result: { prefix: '', suffix: '' } },
      result: { prefix: '', suffix: '' },
    },
  },
} as unknown as ChatWrapper;

async function read(syntax: CallSyntax, pieces: string[]): Promise<{ calls: ToolCallReader['calls']; events: GenerationEvent[] }> {
  const events: GenerationEvent[] = [];
  const reader = new ToolCallReader(syntax, (event) => void events.push(event));
  for (const piece of pieces) await reader.push(piece);
  return { calls: reader.calls, events };
}

describe('call syntax', () => {
  test("an auto reply's trigger is the opening of its calls, section marker included", () => {
    const syntax = callSyntaxOf(deepSeekStyle);
    assert.equal(syntax.sectionPrefix, '<｜tool▁calls▁begin｜>');
    assert.equal(syntax.trigger, '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>');
    assert.equal(callSyntaxOf(new QwenChatWrapper()).trigger, '<tool_call>');
    assert.equal(callSyntaxOf(new HarmonyChatWrapper()).trigger, 'to=functions.');
  });

  test('a section-marked reply is read call by call', async () => {
    const syntax = callSyntaxOf(deepSeekStyle);
    const text =
      '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"city":"Paris"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜>';
    const { calls } = await read(syntax, [...text]);
    assert.deepEqual(
      calls.map(({ name, arguments: args }) => [name, args]),
      [
        ['get_weather', '{"city":"Paris"}'],
        ['get_time', '{}'],
      ],
    );
  });

  test('an opening that starts with whitespace: the name is whole whether the whitespace was written or trimmed', async () => {
    const harmony = callSyntaxOf(new HarmonyChatWrapper());
    assert.match(harmony.prefix, /^\s/);
    for (const text of [
      ' to=functions.get_weather<|constrain|>json<|message|>{"city":"Paris"}<|call|>',
      'to=functions.get_weather<|constrain|>json<|message|>{"city":"Paris"}<|call|>',
    ]) {
      const { calls, events } = await read(harmony, [text.slice(0, 3), text.slice(3)]);
      assert.deepEqual(
        calls.map(({ name, arguments: args }) => [name, args]),
        [['get_weather', '{"city":"Paris"}']],
        text,
      );
      assert.equal(events.find((event) => event.type === 'tool_call_start')?.name, 'get_weather');
    }
    const qwenAfterLineBreak = { ...callSyntaxOf(new QwenChatWrapper()), prefix: '\n<tool_call>\n{"name": "' };
    const { calls } = await read(qwenAfterLineBreak, ['<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>']);
    assert.equal(calls[0]?.name, 'get_weather');
  });

  test('a reply that does not open with the syntax is an error, not a call with a cut name', async () => {
    await assert.rejects(read(callSyntaxOf(new QwenChatWrapper()), ['<tool_cal>\n{"name": "get_weather", "arguments": {}}\n</tool_call>']), /does not open/);
  });

  test('a syntax with nothing after the arguments (Functionary) is refused, naming tools', async () => {
    const syntax = callSyntaxOf(new FunctionaryChatWrapper());
    assert.equal(syntax.suffix, '');
    const tools = {
      definitions: [{ name: 'get_weather', parameters: { type: 'object', properties: {} } }],
      choice: { kind: 'required' as const },
      parallel: false,
    };
    await assert.rejects(toolCallGrammar(syntax, tools), (error: unknown) => {
      assert.ok(error instanceof UnsupportedFeatureError);
      assert.equal(error.field, 'tools');
      assert.match(error.message, /chat_template/);
      return true;
    });
    assert.throws(() => new ToolCallReader(syntax, () => undefined), /empty suffix/);
  });
});
