// The wire of tool calling, engine aside: every malformed `tools`, `tool_choice`, legacy
// `functions`/`function_call` and tool history is a 400 naming the parameter, before any model
// runs (raw HTTP against a listening gateway).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { noLlamaServer } from '../helpers/llama-server-spawn.js';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { writeToolModel } from '../helpers/tool-model.js';

const CONFIG = `
[api.models.chat]
path = "${models.storiesChatml}"
type = "chat"
context_length = 512
threads = 1
parallel = 1
`;

const weather = {
  type: 'function',
  function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const user = { role: 'user', content: 'Weather in Paris?' };
const called = {
  role: 'assistant',
  content: null,
  tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
};

describe('tool requests on the wire', () => {
  let gateway: TestGateway;
  before(async () => {
    // `tools`: a model whose template lists tools, on the engine that builds the call grammar in-process.
    gateway = await startTestGateway(
      `${CONFIG}\n[api.models.tools]\npath = "${await writeToolModel()}"\ntype = "chat"\nbackend = "llama"\ncontext_length = 512\nthreads = 1\n`,
    );
  });
  after(async () => {
    await gateway?.close();
  });

  test('every bad tool input is a 400 naming its parameter', async () => {
    const cases: Array<[string, Record<string, unknown>, string, RegExp?]> = [
      [
        'unknown tool in tool_choice',
        { tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } },
        'tool_choice.function.name',
        /'nope'/,
      ],
      ['tool_choice of a bad kind', { tools: [weather], tool_choice: 'always' }, 'tool_choice'],
      ['required without tools', { tool_choice: 'required' }, 'tool_choice'],
      ['duplicate tool names', { tools: [weather, weather] }, 'tools[1].function.name', /Duplicate/],
      ['a tool name with spaces', { tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'tools[0].function.name'],
      ['a tool type other than function', { tools: [{ type: 'retrieval', function: { name: 'f' } }] }, 'tools[0].type'],
      [
        'parameters of a non-object type',
        { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] },
        'tools[0].function.parameters',
        /type "object"/,
      ],
      [
        'parameters with an unknown type name',
        { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'text' } } } } }] },
        'tools[0].function.parameters',
        /\$\.properties\.a\.type/,
      ],
      [
        'parameters whose required is not a list',
        { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', required: 'a' } } }] },
        'tools[0].function.parameters',
      ],
      [
        'parameters with a broken pattern',
        { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string', pattern: '(' } } } } }] },
        'tools[0].function.parameters',
      ],
      [
        'a tool message answering no call',
        { messages: [user, { role: 'tool', tool_call_id: 'call_9', content: '20C' }] },
        'messages[1].tool_call_id',
        /call_9/,
      ],
      ['a tool message without tool_call_id', { messages: [user, called, { role: 'tool', content: '20C' }] }, 'messages[2].tool_call_id'],
      ['tool_calls on a user message', { messages: [{ ...user, tool_calls: called.tool_calls }] }, 'messages[0].tool_calls'],
      [
        'a call without arguments',
        { messages: [user, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f' } }] }] },
        'messages[1].tool_calls[0].function.arguments',
      ],
      ['two calls with one id', { messages: [user, { ...called, tool_calls: [...called.tool_calls, ...called.tool_calls] }] }, 'messages[1].tool_calls[1].id'],
      [
        'an image in a tool message',
        {
          messages: [
            user,
            called,
            { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
          ],
        },
        'messages[2].content[0]',
      ],
      ['tools and functions together', { tools: [weather], functions: [weather.function] }, 'functions'],
      ['function_call naming an unknown function', { functions: [weather.function], function_call: { name: 'nope' } }, 'function_call.name'],
      ['tool_choice with functions', { functions: [weather.function], tool_choice: 'auto' }, 'tool_choice'],
      ['a function result for a function never called', { messages: [user, { role: 'function', name: 'get_weather', content: '20C' }] }, 'messages[1].name'],
      ['tools with response_format', { tools: [weather], response_format: { type: 'json_object' } }, 'response_format'],
      ['parallel_tool_calls not a boolean', { tools: [weather], parallel_tool_calls: 'yes' }, 'parallel_tool_calls'],
      ['parallel calls asked of the legacy functions', { functions: [weather.function], parallel_tool_calls: true }, 'parallel_tool_calls', /functions/],
      ['legacy parameters of a non-object type', { functions: [{ name: 'f', parameters: { type: 'string' } }] }, 'functions[0].parameters'],
      [
        'legacy parameters the engine cannot enforce',
        {
          model: 'tools',
          functions: [weather.function, { name: 'pick', parameters: { type: 'object', properties: { n: { type: 'number', minimum: 3 } } } }],
          function_call: { name: 'pick' },
        },
        'functions[1].parameters',
        /pick.*minimum/,
      ],
    ];
    for (const [what, patch, param, message] of cases) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [user], max_tokens: 2, ...patch }),
      });
      const body = (await response.json()) as { error: { param: string; type: string; message: string } };
      assert.equal(response.status, 400, `${what}: ${JSON.stringify(body)}`);
      assert.equal(body.error.type, 'invalid_request_error', what);
      assert.equal(body.error.param, param, `${what}: ${JSON.stringify(body)}`);
      if (message) assert.match(body.error.message, message, what);
    }
  });

  test("a legacy function call's id is never one a client chose", async () => {
    // messages[1]'s legacy call would be call_legacy_1: a client's call of that id is another call.
    const messages = [
      user,
      { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { role: 'function', name: 'get_weather', content: '20C' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_legacy_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_legacy_1', content: '25C' },
    ];
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages, max_tokens: 2 }),
    });
    assert.equal(response.status, 200, await response.clone().text());
  });

  test('tool_choice "none" and "auto" without tools ask for nothing: a plain reply', async () => {
    for (const tool_choice of ['none', 'auto']) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [user], max_tokens: 2, tool_choice, parallel_tool_calls: false }),
      });
      assert.equal(response.status, 200, tool_choice);
    }
  });
});

describe('tools on a llama-server model whose template lists none', { skip: noLlamaServer }, () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(CONFIG.replace('[api.models.chat]', '[api.models.chat]\nbackend = "llama-server"'));
  });
  after(async () => {
    await gateway?.close();
  });

  const ask = (patch: Record<string, unknown>) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [user], max_tokens: 2, ...patch }),
    });

  test('tools it may call are a 400 naming the model and the way out; under "none" the reply is text', async () => {
    for (const tool_choice of ['auto', 'required']) {
      const response = await ask({ tools: [weather], tool_choice });
      const body = (await response.json()) as { error: { param: string; message: string } };
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(body.error.param, 'tools');
      assert.match(body.error.message, /chat template does not list tools/);
    }
    const none = await ask({ tools: [weather], tool_choice: 'none' });
    assert.equal(none.status, 200, await none.clone().text());
    // A history with a call and its result is rendered by the template (llama.cpp's fallbacks).
    const history = await ask({ messages: [user, called, { role: 'tool', tool_call_id: 'call_1', content: '20C' }] });
    assert.equal(history.status, 200, await history.clone().text());
  });
});
