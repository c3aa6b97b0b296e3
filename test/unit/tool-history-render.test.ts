// The in-process engine's tool history as node-llama-cpp's built-in wrappers (those real Qwen and
// Llama 3.1 GGUFs get) render it: the reply after a call's result goes on in the model turn that
// made the call, as LlamaChat continues it (no empty assistant turn), and a JSON result reaches the
// model as JSON, not as a string literal of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Llama3_1ChatWrapper, QwenChatWrapper, type ChatWrapper } from 'node-llama-cpp';
import type { ChatMessage } from '../../src/engine/contract.js';
import { toChatHistory } from '../../src/backends/llama/llama-chat.js';

const call: ChatMessage[] = [
  { role: 'user', content: 'Weather in Paris?' },
  { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
];

function rendered(wrapper: ChatWrapper, messages: ChatMessage[]): string {
  return wrapper.generateContextState({ chatHistory: toChatHistory(messages) }).contextText.toString();
}

test('Qwen: call → result → the reply opens once, right after the result', () => {
  const prompt = rendered(new QwenChatWrapper(), [...call, { role: 'tool', content: '{"temp":21}', toolCallId: 'call_1' }]);
  assert.equal(
    prompt,
    '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
      '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\n<tool_response>\n{"temp": 21}\n</tool_response><|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
});

test('Llama 3.1: call → result (ipython turn) → the reply opens once', () => {
  const prompt = rendered(new Llama3_1ChatWrapper({ todayDate: null, cuttingKnowledgeDate: null }), [
    ...call,
    { role: 'tool', content: '{"temp":21}', toolCallId: 'call_1' },
  ]);
  assert.ok(
    prompt.endsWith(
      '<|start_header_id|>assistant<|end_header_id|>\n\n<function=get_weather>{"city": "Paris"}</function><|eom_id|>\n' +
        '<|start_header_id|>ipython<|end_header_id|>\n\n{"temp": 21}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    ),
    prompt,
  );
});

test('the answer after the results stays in the turn that called; a result that is not JSON is given as its text', () => {
  const messages: ChatMessage[] = [
    ...call,
    { role: 'tool', content: 'sunny, 21 degrees', toolCallId: 'call_1' },
    { role: 'assistant', content: 'It is sunny.' },
    { role: 'user', content: 'And tomorrow?' },
  ];
  assert.equal(
    rendered(new QwenChatWrapper(), messages),
    '<|im_start|>user\nWeather in Paris?<|im_end|>\n' +
      '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\n<tool_response>\n"sunny, 21 degrees"\n</tool_response><|im_end|>\n' +
      '<|im_start|>assistant\nIt is sunny.<|im_end|>\n' +
      '<|im_start|>user\nAnd tomorrow?<|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
});
