// The Anthropic request → chat request translation: what the chat templates need (a turn's tool
// results in the order of their calls, joined text blocks) and what Anthropic refuses (an assistant
// prefill, an unanswered tool_use, unknown keys, combinations the engines cannot honour), each a 400
// naming the request's own field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMessagesRequest } from '../../src/anthropic/messages-request.js';
import { toChatGenerationRequest, toChatRequest } from '../../src/anthropic/messages-translation.js';

const LIMITS = { maxImageBytes: 1 << 20, maxImagesPerRequest: 4 };
const tool = { name: 'f', input_schema: { type: 'object' } };

function translate(body: Record<string, unknown>) {
  return toChatGenerationRequest(parseMessagesRequest({ model: 'm', max_tokens: 16, ...body }), LIMITS).chat;
}

function refused(body: Record<string, unknown>, param: string, pattern: RegExp): void {
  assert.throws(
    () => translate(body),
    (error: unknown) => {
      const { param: named, message } = error as { param: string | null; message: string };
      assert.equal(named, param, message);
      assert.match(message, pattern);
      return true;
    },
  );
}

const calls = {
  role: 'assistant',
  content: [
    { type: 'tool_use', id: 'toolu_a', name: 'f', input: { n: 1 } },
    { type: 'tool_use', id: 'toolu_b', name: 'f', input: { n: 2 } },
  ],
};

/** A conversation: a request, two calls, and the user turn `content` that answers them. */
const answered = (content: unknown[]) => [{ role: 'user', content: 'go' }, calls, { role: 'user', content }];

test("a turn's tool results follow their calls' order; text blocks are joined by newlines", () => {
  const request = translate({
    tools: [tool],
    messages: answered([
      {
        type: 'tool_result',
        tool_use_id: 'toolu_b',
        content: [
          { type: 'text', text: 'two' },
          { type: 'text', text: 'lines' },
        ],
      },
      { type: 'text', text: 'first' },
      { type: 'tool_result', tool_use_id: 'toolu_a', content: 'one' },
      { type: 'text', text: 'second' },
    ]),
  });
  assert.deepEqual(request.messages.slice(2), [
    { role: 'tool', tool_call_id: 'toolu_a', content: 'one' },
    { role: 'tool', tool_call_id: 'toolu_b', content: 'two\nlines' },
    { role: 'user', content: 'first\nsecond' },
  ]);
});

test("a tool's strict flag is passed to the function definition", () => {
  const request = translate({ messages: [{ role: 'user', content: 'Hi' }], tools: [{ ...tool, strict: true }] });
  assert.equal(request.tools?.[0].function.strict, true);
});

test('refused by name: a prefill, an unanswered call, empty content or stop string, unknown keys, a forced call with thinking', () => {
  refused(
    {
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Once' },
      ],
    },
    'messages[1]',
    /prefill/,
  );
  refused(
    {
      tools: [tool],
      messages: [{ role: 'user', content: 'go' }, calls, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: '1' }] }],
    },
    'messages[2].content',
    /toolu_b/,
  );
  refused({ tools: [tool], messages: [{ role: 'user', content: 'go' }, calls, { role: 'user', content: 'no results' }] }, 'messages[2].content', /toolu_a/);
  refused({ messages: [{ role: 'user', content: [] }] }, 'messages[0].content', /at least 1/);
  refused({ messages: [{ role: 'user', content: 'Hi' }], stop_sequences: [''] }, 'stop_sequences[0]', /at least 1/);
  refused({ messages: [{ role: 'user', content: 'Hi' }], metadata: { user_id: 'u', tag: 'x' } }, 'metadata', /tag/);
  refused({ messages: [{ role: 'user', content: 'Hi' }], constructor: 1 }, 'constructor', /Extra inputs are not permitted/);
  refused({ messages: [{ role: 'user', content: 'Hi' }], tools: [tool], tool_choice: { type: 'auto', extra: true } }, 'tool_choice', /extra/);
  refused({ messages: [{ role: 'user', content: 'Hi' }], tools: [{ ...tool, defer_loading: true }] }, 'tools[0].defer_loading', /defer_loading/);
  refused(
    { messages: [{ role: 'user', content: 'Hi' }], tools: [tool], tool_choice: { type: 'any' }, thinking: { type: 'enabled', budget_tokens: 8 } },
    'thinking',
    /tool_choice/,
  );
  refused({ messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', colour: 'red' }] }] }, 'messages[0].content[0]', /colour/);
});

test('echoed blocks of an earlier reply are taken back as they came (citations, caller, cache_control)', () => {
  const request = translate({
    tools: [tool],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'go', cache_control: { type: 'ephemeral' } }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'ok', citations: null },
          { type: 'tool_use', id: 'toolu_a', name: 'f', input: {}, caller: { type: 'direct' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: 'done' }] },
    ],
  });
  assert.equal(request.messages.length, 3);
});

test("the chat messages' names, for an engine's error: each chat message and image part as the request numbers it", () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const { chat, wireNames } = toChatRequest(
    parseMessagesRequest({
      model: 'm',
      max_tokens: 16,
      system: 'Be brief.',
      tools: [tool],
      messages: answered([
        { type: 'tool_result', tool_use_id: 'toolu_b', content: 'two' },
        { type: 'text', text: 'look' },
        { type: 'tool_result', tool_use_id: 'toolu_a', content: 'one' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
      ]),
    }),
    LIMITS,
  );
  assert.equal(chat.messages.length, 6);
  assert.deepEqual(
    [wireNames['messages[1]'], wireNames['messages[3]'], wireNames['messages[4]'], wireNames['messages[5]'], wireNames['messages[5].content[1]']],
    ['messages[0]', 'messages[2].content[2]', 'messages[2].content[0]', 'messages[2]', 'messages[2].content[3]'],
  );
  assert.equal(wireNames.prompt, 'messages');
});
