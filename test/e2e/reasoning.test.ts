// Reasoning on chat completions, with the official openai SDK against a listening gateway, on every
// engine: a model whose template has thinking segments (test/helpers/thinking-model.ts opens every
// reply inside `<think>`) answers with the thought in `message.reasoning_content` and only the
// answer in `content`, streamed as `delta.reasoning_content` then `delta.content`. This random tiny
// model never closes its thought by itself: `max_thinking_tokens` makes the engine write `</think>`,
// which exercises both segments deterministically; without a budget the thought runs to max_tokens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { writeThinkingModel } from '../helpers/thinking-model.js';

/** The fields this gateway adds to OpenAI's message and delta. */
type WithReasoning<T> = T & { reasoning_content?: string };

const BUDGET = 6;
const request = { messages: [{ role: 'user' as const, content: 'Tell me a story.' }], max_tokens: 48, temperature: 0, seed: 7 };

function modelsToml(backend: string, file: string): string {
  const common = `backend = "${backend}"\ntype = "chat"\ncontext_length = 512\nthreads = 1\nparallel = 1\n`;
  return `
[api.models.think]
path = "${file}"
${common}max_thinking_tokens = ${BUDGET}

[api.models.think-free]
path = "${file}"
${common}
[api.models.plain]
path = "${models.storiesChatml}"
${common}`;
}

function assertNoMarkers(text: string | null | undefined): void {
  assert.doesNotMatch(text ?? '', /<\/?think>/);
}

async function streamed(client: OpenAI, body: Record<string, unknown>) {
  const stream = await client.chat.completions.create({ model: 'think', ...request, ...body, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
  const order: Array<'reasoning' | 'content'> = [];
  let reasoning = '';
  let content = '';
  let finish: string | null = null;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta as WithReasoning<OpenAI.ChatCompletionChunk.Choice.Delta> | undefined;
    if (delta?.reasoning_content) {
      reasoning += delta.reasoning_content;
      order.push('reasoning');
    }
    if (delta?.content) {
      content += delta.content;
      order.push('content');
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { order, reasoning, content, finish };
}

function reasoningSuite(engine: string, start: () => Promise<{ gateway: TestGateway; close(): Promise<void> }>): void {
  describe(`reasoning on ${engine}`, () => {
    let rig: { gateway: TestGateway; close(): Promise<void> };
    let client: OpenAI;
    before(async () => {
      rig = await start();
      client = rig.gateway.client;
    });
    after(async () => {
      await rig?.close();
    });

    test('the thought is reasoning_content, the answer content: the budget closes the thought after max_thinking_tokens', async () => {
      const free = await client.chat.completions.create({ model: 'think-free', ...request });
      const freeMessage = free.choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>;
      // Without a budget this model thinks until max_tokens: all thought, no answer.
      assert.ok((freeMessage.reasoning_content ?? '').length > 0, 'the unbounded thought is reasoning_content');
      assert.equal(freeMessage.content, '');
      assert.equal(free.choices[0].finish_reason, 'length');

      const budgeted = await client.chat.completions.create({ model: 'think', ...request });
      const message = budgeted.choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>;
      const thought = message.reasoning_content ?? '';
      assert.ok(thought.length > 0, 'a thought was returned');
      assertNoMarkers(thought);
      assertNoMarkers(message.content);
      // The same greedy thought, cut after the budget's tokens.
      assert.ok(freeMessage.reasoning_content!.startsWith(thought), `${JSON.stringify(thought)} starts the unbounded thought`);
      assert.ok(thought.length < freeMessage.reasoning_content!.length);
      assert.ok(budgeted.usage!.completion_tokens <= request.max_tokens);
    });

    test('streamed: reasoning_content deltas, then content deltas, adding up to the non-streamed reply', async () => {
      const whole = await client.chat.completions.create({ model: 'think', ...request });
      const message = whole.choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>;
      const stream = await streamed(client, {});
      assert.equal(stream.reasoning, message.reasoning_content);
      assert.equal(stream.content, message.content);
      assert.equal(stream.finish, whole.choices[0].finish_reason);
      const firstContent = stream.order.indexOf('content');
      if (firstContent >= 0) assert.ok(!stream.order.slice(firstContent).includes('reasoning'), 'no thought after the answer began');
    });

    test('reasoning_effort "none" leaves the thought out (closed in the prompt); "low" is accepted', async () => {
      const thinking = await client.chat.completions.create({ model: 'think-free', ...request, max_tokens: 8 });
      const none = await client.chat.completions.create({ model: 'think-free', ...request, max_tokens: 8, reasoning_effort: 'none' } as never);
      const message = (none as OpenAI.ChatCompletion).choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>;
      assert.equal(message.reasoning_content, undefined);
      assert.ok((message.content ?? '').length > 0, 'the reply is all answer');
      assertNoMarkers(message.content);
      // The closed thought is part of the prompt.
      assert.ok((none as OpenAI.ChatCompletion).usage!.prompt_tokens > thinking.usage!.prompt_tokens);
      const low = await client.chat.completions.create({ model: 'think', ...request, reasoning_effort: 'low' });
      assert.ok(((low.choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>).reasoning_content ?? '').length > 0);
    });

    test('a model without thinking segments takes reasoning_effort as a no-op', async () => {
      const reply = await client.chat.completions.create({ model: 'plain', ...request, max_tokens: 8, reasoning_effort: 'high' });
      const message = reply.choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>;
      assert.equal(message.reasoning_content, undefined);
      assert.ok((message.content ?? '').length > 0);
    });

    test('a constrained reply is all answer', async () => {
      const reply = await client.chat.completions.create({ model: 'think', ...request, max_tokens: 64, response_format: { type: 'json_object' } });
      const message = reply.choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>;
      assert.equal(message.reasoning_content, undefined);
      if (reply.choices[0].finish_reason === 'stop') JSON.parse(message.content ?? '');
    });

    test('a constrained reply is generated after the thought, closed in the prompt: JSON content, as with reasoning_effort "none"', async () => {
      // A grammar leaves no room for a thought: the thought the template opened is closed first, as "none" closes it.
      const schema = { type: 'object', properties: { story: { type: 'string' } }, required: ['story'], additionalProperties: false };
      const formats = [{ type: 'json_object' as const }, { type: 'json_schema' as const, json_schema: { name: 'story', schema } }];
      for (const response_format of formats) {
        const body = { model: 'think-free', ...request, max_tokens: 32, response_format };
        const constrained = await client.chat.completions.create(body);
        const closed = (await client.chat.completions.create({ ...body, reasoning_effort: 'none' } as never)) as OpenAI.ChatCompletion;
        const message = constrained.choices[0].message as WithReasoning<OpenAI.ChatCompletionMessage>;
        assert.equal(message.reasoning_content, undefined);
        assertNoMarkers(message.content);
        // Greedy decoding on the same prompt, the thought closed in it: the same reply.
        assert.equal(message.content, closed.choices[0].message.content, `${response_format.type}: the reply follows the closed thought`);
        if (constrained.choices[0].finish_reason === 'stop') JSON.parse(message.content ?? '');
      }
    });

    test('an unknown reasoning_effort is a 400 naming it', async () => {
      await assert.rejects(
        client.chat.completions.create({ model: 'think', ...request, reasoning_effort: 'extreme' } as never),
        (error: { status?: number; param?: string }) => error.status === 400 && error.param === 'reasoning_effort',
      );
    });
  });
}

for (const engine of ['llama', 'llama-server']) {
  reasoningSuite(engine, async () => {
    const gateway = await startTestGateway(modelsToml(engine, await writeThinkingModel()));
    return { gateway, close: () => gateway.close() };
  });
}

// `remote`: reasoning_effort goes upstream as given and the upstream's reasoning_content comes back.
reasoningSuite('remote', async () => {
  const upstream = await startTestGateway(modelsToml('llama', await writeThinkingModel()));
  try {
    const remote = (id: string) => `
[api.models.${id}]
backend = "remote"
type = "chat"
upstreams = ["${upstream.url}/v1"]
upstream_model = "${id}"
`;
    const gateway = await startTestGateway(`[plugins.remote]\n${remote('think')}${remote('think-free')}${remote('plain')}`);
    return {
      gateway,
      close: async () => {
        await gateway.close();
        await upstream.close();
      },
    };
  } catch (error) {
    await upstream.close();
    throw error;
  }
});
