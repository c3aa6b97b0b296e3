// A remote model whose upstream does not honour tool_choice: llama.cpp's own server, run bare,
// takes a named tool_choice for "auto" and lets `required` answer in text. The gateway checks the
// upstream's reply against the request (names listed, the named one, at least one call) and
// answers an error rather than a reply the client did not ask for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { noLlamaServer, spawnLlamaServer, type SpawnedLlamaServer } from '../helpers/llama-server-spawn.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { writeToolModel } from '../helpers/tool-model.js';

const weather: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const time: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } },
};

describe('remote: an upstream that ignores tool_choice', { skip: noLlamaServer }, () => {
  let upstream: SpawnedLlamaServer;
  let gateway: TestGateway;
  before(async () => {
    upstream = await spawnLlamaServer('bare', ['--model', await writeToolModel(), '--ctx-size', '2048', '--parallel', '1']);
    gateway = await startTestGateway(`
[plugins.remote]
health_check_interval = 0

[api.models.chat]
backend = "remote"
type = "chat"
upstreams = ["${upstream.baseUrl}/v1"]
`);
  });
  after(async () => {
    await gateway?.close();
    await upstream?.stop();
  });

  for (const stream of [false, true]) {
    test(`a named tool_choice the upstream answers otherwise is an error, never another reply (${stream ? 'streamed' : 'not streamed'})`, async () => {
      // The bare server answers these in text (seeds checked): a reply the gateway must not pass on as if it were the call asked for.
      let refused = 0;
      for (const seed of [1, 2]) {
        const request: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
          model: 'chat',
          messages: [{ role: 'user', content: 'What time is it?' }],
          tools: [weather, time],
          tool_choice: { type: 'function', function: { name: 'get_time' } },
          max_tokens: 24,
          seed,
        };
        const outcome: Promise<string[]> = stream
          ? (async () => {
              const chunks = await gateway.client.chat.completions.create({ ...request, stream: true });
              const calls: string[] = [];
              for await (const chunk of chunks)
                for (const call of chunk.choices[0]?.delta.tool_calls ?? []) if (call.function?.name) calls.push(call.function.name);
              return calls;
            })()
          : gateway.client.chat.completions
              .create(request)
              .then((completion) =>
                (completion.choices[0].message.tool_calls ?? []).map((call) => (call as OpenAI.Chat.ChatCompletionMessageFunctionToolCall).function.name),
              );
        const names: string[] | undefined = await outcome.catch((error: unknown) => {
          assert.ok(error instanceof OpenAI.APIError, String(error));
          // Refused before anything was relayed: a plain 502 even on a stream, which the SDK raises as such.
          assert.equal(error.status, 502, error.message);
          assert.equal(error.code, 'upstream_tool_choice_ignored');
          assert.match(error.message, /tool_choice was 'get_time'/);
          return undefined;
        });
        // The bare server answers these seeds in text; had it called, it would have to be exactly the named function.
        if (names !== undefined) assert.deepEqual(names, ['get_time']);
        else refused++;
      }
      assert.ok(refused > 0, 'the bare server honoured the named choice: this test checks nothing');
    });
  }
});
