// The tool-calling fixture (test/helpers/tool-model.ts) is what the tool tests take it for: a GGUF
// whose template node-llama-cpp reads as a tool-calling template (Hermes/Qwen-2.5 call syntax
// inferred from the Jinja), and that llama-server reports as taking tools.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { getLlama, JinjaTemplateChatWrapper, LlamaText, resolveChatWrapper, type LlamaModel } from 'node-llama-cpp';
import { noLlamaServer, spawnLlamaServer } from '../helpers/llama-server-spawn.js';
import { readGgufMetadata } from '../helpers/gguf-format.js';
import { TOOL_CHAT_TEMPLATE, writeToolModel } from '../helpers/tool-model.js';
import { readFile } from 'node:fs/promises';

let file: string;
let model: LlamaModel;

before(async () => {
  file = await writeToolModel();
  const llama = await getLlama({ gpu: false, build: 'never' });
  model = await llama.loadModel({ modelPath: file });
});

after(async () => {
  await model?.dispose();
  if (file) await rm(path.dirname(file), { recursive: true, force: true });
});

test('the fixture is stories260K with the tool template added', async () => {
  const metadata = readGgufMetadata(await readFile(file));
  assert.equal(metadata.get('tokenizer.chat_template'), TOOL_CHAT_TEMPLATE);
  assert.equal(metadata.get('llama.block_count'), 5);
});

test('node-llama-cpp infers the Hermes call syntax from its Jinja template', () => {
  const wrapper = resolveChatWrapper(model, { warningLogs: false });
  assert.ok(wrapper instanceof JinjaTemplateChatWrapper, wrapper.wrapperName);
  assert.equal(wrapper.usingJinjaFunctionCallTemplate, true);
  const call = wrapper.settings.functions.call;
  assert.equal(LlamaText(call.prefix).toString(), '<tool_call>\n{"name": "');
  assert.equal(LlamaText(call.paramsPrefix).toString(), '", "arguments": ');
  assert.equal(LlamaText(call.suffix).toString(), '}\n</tool_call>');
  const state = wrapper.generateContextState({
    chatHistory: [
      { type: 'user', text: 'Weather?' },
      { type: 'model', response: [] },
    ],
    availableFunctions: { get_weather: { description: 'The weather', params: { type: 'object', properties: { city: { type: 'string' } } } } },
  });
  assert.match(state.contextText.toString(), /<tools>\n\{"type": "function", "function": \{"name": "get_weather"/);
});

test('llama-server (--jinja) reports the template as taking tools and parallel calls', { skip: noLlamaServer }, async () => {
  const server = await spawnLlamaServer('tools', ['--model', file, '--ctx-size', '2048', '--jinja']);
  try {
    const props = (await (await fetch(`${server.baseUrl}/props`)).json()) as { chat_template_caps?: Record<string, boolean> };
    assert.equal(props.chat_template_caps?.supports_tools, true, JSON.stringify(props.chat_template_caps));
    assert.equal(props.chat_template_caps?.supports_tool_calls, true);
    assert.equal(props.chat_template_caps?.supports_parallel_tool_calls, true);
  } finally {
    await server.stop();
  }
});
