// The Responses API end to end on the in-process engine, with the official openai SDK and raw
// HTTP against a listening gateway: stored responses and previous_response_id, their routes and
// their ownership, reasoning, every refusal as a 4xx naming the field, and the guard chat has (model
// permissions, token reservation, the bounded queue, cancel on disconnect, context overflow). What
// every engine must do (create, stream, tools, text.format) is the conformance suite's
// (test/conformance/responses.test.ts).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { assertEventOrder } from '../conformance/responses-conformance.js';
import { pngDataUrl } from '../helpers/tiny-png.js';
import { RESPONSES_KEYS, startResponsesGateway, type ResponsesGateway } from '../helpers/responses-gateway.js';

type StreamEvent = OpenAI.Responses.ResponseStreamEvent;

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

describe('the Responses API', () => {
  let rig: ResponsesGateway;
  let alice: OpenAI;
  let bob: OpenAI;
  before(async () => {
    rig = await startResponsesGateway();
    alice = rig.client('alice');
    bob = rig.client('bob');
  });
  after(() => rig?.close());

  /** A raw request with alice's key: the status and the parsed body. */
  async function raw(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown; headers: Headers }> {
    const response = await fetch(`${rig.gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${RESPONSES_KEYS.alice}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json(), headers: response.headers };
  }

  async function assertRefused(body: unknown, param: string, code?: string, status = 400): Promise<ErrorBody['error']> {
    const answer = await raw('POST', '/v1/responses', body);
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    const { error } = answer.body as ErrorBody;
    assert.equal(error.param, param, JSON.stringify(error));
    assert.equal(error.type, status === 404 ? 'not_found_error' : 'invalid_request_error');
    if (code !== undefined) assert.equal(error.code, code, JSON.stringify(error));
    assert.ok(error.message.length > 0);
    return error;
  }

  test('previous_response_id continues the conversation: its input and output reach the model, its instructions do not', async () => {
    const first = await alice.responses.create({ model: 'tools', instructions: 'Be brief.', input: 'Hello there.', max_output_tokens: 4, temperature: 0 });
    const second = await alice.responses.create({ model: 'tools', previous_response_id: first.id, input: 'Go on.', max_output_tokens: 4, temperature: 0 });
    assert.equal(second.previous_response_id, first.id);
    assert.equal(second.instructions, null);
    assert.ok(second.usage!.input_tokens > first.usage!.input_tokens);
    // The same conversation sent as chat messages renders to the same prompt.
    const chat = await alice.chat.completions.create({
      model: 'tools',
      messages: [
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'Go on.' },
      ],
      max_tokens: 1,
    });
    assert.equal(second.usage!.input_tokens, chat.usage!.prompt_tokens);
    // A third turn carries both before it.
    const third = await alice.responses.create({ model: 'tools', previous_response_id: second.id, input: 'And then?', max_output_tokens: 2 });
    assert.ok(third.usage!.input_tokens > second.usage!.input_tokens);
    const items = await alice.responses.inputItems.list(third.id);
    assert.equal(items.data.length, 1, 'input_items lists the request’s own input');
    // An item of the conversation sent again (its id already taken there) is refused by name.
    await assertRefused(
      { model: 'tools', previous_response_id: first.id, input: [...(first.output as unknown[]), { role: 'user', content: 'Go on.' }], max_output_tokens: 2 },
      'input[0].id',
    );
  });

  test('GET returns the stored response, DELETE removes it, and then both are 404', async () => {
    const created = await alice.responses.create({ model: 'tools', input: 'Hi', max_output_tokens: 3, metadata: { topic: 'greeting' } });
    assert.deepEqual(created.metadata, { topic: 'greeting' });
    const fetched = await alice.responses.retrieve(created.id);
    assert.equal(fetched.id, created.id);
    assert.deepEqual(fetched.output, created.output);
    assert.deepEqual(fetched.usage, created.usage);
    assert.equal(fetched.output_text, created.output_text);
    assert.deepEqual(fetched.metadata, { topic: 'greeting' });
    const deleted = await raw('DELETE', `/v1/responses/${created.id}`);
    assert.deepEqual(deleted.body, { id: created.id, object: 'response.deleted', deleted: true });
    await assert.rejects(alice.responses.retrieve(created.id), OpenAI.NotFoundError);
    assert.equal((await raw('DELETE', `/v1/responses/${created.id}`)).status, 404);
    const streamed = await raw('GET', `/v1/responses/${created.id}?stream=true`);
    assert.equal((streamed.body as ErrorBody).error.param, 'stream');
  });

  test('input_items: newest first by default, limit and after page through, order asc reverses', async () => {
    const input = ['one', 'two', 'three', 'four', 'five'].map((text) => ({ role: 'user' as const, content: text }));
    const created = await alice.responses.create({ model: 'tools', input, max_output_tokens: 2 });
    const texts = (page: OpenAI.Responses.ResponseItemList) =>
      page.data.map((item) => ((item as OpenAI.Responses.ResponseInputMessageItem).content[0] as { text: string }).text);
    const all = await raw('GET', `/v1/responses/${created.id}/input_items`);
    const list = all.body as OpenAI.Responses.ResponseItemList;
    assert.equal(list.object, 'list');
    assert.deepEqual(texts(list), ['five', 'four', 'three', 'two', 'one']);
    assert.equal(list.has_more, false);
    assert.equal(list.first_id, list.data[0].id);
    assert.equal(list.last_id, list.data[4].id);
    assert.ok(list.data.every((item) => item.type === 'message' && /^msg_/.test(item.id)));
    const page1 = (await raw('GET', `/v1/responses/${created.id}/input_items?order=asc&limit=2`)).body as OpenAI.Responses.ResponseItemList;
    assert.deepEqual(texts(page1), ['one', 'two']);
    assert.equal(page1.has_more, true);
    const page2 = (await raw('GET', `/v1/responses/${created.id}/input_items?order=asc&limit=2&after=${page1.last_id}`))
      .body as OpenAI.Responses.ResponseItemList;
    assert.deepEqual(texts(page2), ['three', 'four']);
    const page3 = (await raw('GET', `/v1/responses/${created.id}/input_items?order=asc&limit=2&after=${page2.last_id}`))
      .body as OpenAI.Responses.ResponseItemList;
    assert.deepEqual(texts(page3), ['five']);
    assert.equal(page3.has_more, false);
    // The SDK's auto-pagination walks the same pages.
    const walked: string[] = [];
    for await (const item of alice.responses.inputItems.list(created.id, { limit: 2, order: 'asc' }))
      walked.push(((item as OpenAI.Responses.ResponseInputMessageItem).content[0] as { text: string }).text);
    assert.deepEqual(walked, ['one', 'two', 'three', 'four', 'five']);
    for (const [query, param] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['order=sideways', 'order'],
      ['after=msg_none', 'after'],
      ['colour=red', 'colour'],
    ]) {
      const refused = await raw('GET', `/v1/responses/${created.id}/input_items?${query}`);
      assert.equal(refused.status, 400, query);
      assert.equal((refused.body as ErrorBody).error.param, param, query);
    }
  });

  test("a key sees only its own responses: another key's id is 404 everywhere, previous_response_id included", async () => {
    const mine = await alice.responses.create({ model: 'tools', input: 'Secret', max_output_tokens: 2 });
    await assert.rejects(bob.responses.retrieve(mine.id), OpenAI.NotFoundError);
    await assert.rejects(bob.responses.inputItems.list(mine.id), OpenAI.NotFoundError);
    await assert.rejects(bob.responses.delete(mine.id), OpenAI.NotFoundError);
    await assert.rejects(bob.responses.create({ model: 'tools', previous_response_id: mine.id, input: 'Tell', max_output_tokens: 2 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.NotFoundError);
      assert.equal(error.param, 'previous_response_id');
      return true;
    });
    assert.equal((await alice.responses.retrieve(mine.id)).id, mine.id);
  });

  test('store: false is answered and not kept', async () => {
    const transient = await alice.responses.create({ model: 'tools', input: 'Hi', max_output_tokens: 2, store: false });
    assert.equal((transient as { store?: boolean }).store, false);
    await assert.rejects(alice.responses.retrieve(transient.id), OpenAI.NotFoundError);
    await assertRefused({ model: 'tools', previous_response_id: transient.id, input: 'More' }, 'previous_response_id', 'response_not_found', 404);
  });

  test('reasoning: the thought is a reasoning item before the message, streamed as reasoning_text; effort "none" leaves it out', async () => {
    const body = { model: 'think', input: 'Tell me a story.', max_output_tokens: 24, temperature: 0 };
    const thinking = await alice.responses.create(body);
    const [reasoning, message] = thinking.output;
    assert.equal(reasoning.type, 'reasoning', JSON.stringify(thinking.output));
    assert.match(reasoning.id, /^rs_/);
    assert.ok((reasoning.content?.[0].text ?? '').length > 0);
    assert.doesNotMatch(reasoning.content![0].text, /<\/?think>/);
    assert.equal(message?.type, 'message');
    assert.doesNotMatch(thinking.output_text, /<\/?think>/);
    const stream = alice.responses.stream({ ...body, store: false });
    const events: StreamEvent[] = [];
    for await (const event of stream) events.push(event);
    const thought = events.filter((event) => event.type === 'response.reasoning_text.delta').map((event) => event.delta);
    assert.equal(thought.join(''), reasoning.content![0].text);
    assert.deepEqual((await stream.finalResponse()).output_text, thinking.output_text);
    // A thought cut by max_output_tokens is the reasoning item alone, streamed the same.
    const cutBody = { ...body, max_output_tokens: 3, store: false };
    const cut = await alice.responses.create(cutBody);
    assert.equal(cut.status, 'incomplete');
    assert.deepEqual(
      cut.output.map((item) => item.type),
      ['reasoning'],
    );
    assert.equal(cut.output_text, '');
    const cutStream = alice.responses.stream(cutBody);
    const cutEvents: StreamEvent[] = [];
    for await (const event of cutStream) cutEvents.push(event);
    assertEventOrder(cutEvents);
    assert.deepEqual(
      (await cutStream.finalResponse()).output.map((item) => [item.type, (item as { status?: string }).status]),
      [['reasoning', 'incomplete']],
    );
    const none = await alice.responses.create({ ...body, reasoning: { effort: 'none', summary: 'auto' } });
    assert.deepEqual(
      none.output.map((item) => item.type),
      ['message'],
    );
    assert.deepEqual(none.reasoning, { effort: 'none', summary: 'auto' });
    // What Codex sends with store: false: include reasoning.encrypted_content (reasoning items then say
    // encrypted_content: null), and the deprecated reasoning.generate_summary, taken as summary.
    const codex = await alice.responses.create({
      ...body,
      store: false,
      include: ['reasoning.encrypted_content'],
      reasoning: { effort: 'low', generate_summary: 'concise' },
    });
    assert.equal(codex.output[0].type, 'reasoning');
    assert.equal((codex.output[0] as OpenAI.Responses.ResponseReasoningItem).encrypted_content, null);
    assert.ok(!('encrypted_content' in thinking.output[0]), 'only when include asks for it');
    assert.deepEqual(codex.reasoning, { effort: 'low', summary: 'concise' });
    // The reasoning item goes back as history without error (it is not rendered).
    const next = await alice.responses.create({
      model: 'think',
      input: [{ role: 'user', content: 'Hi' }, ...(codex.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: 'More' }],
      max_output_tokens: 2,
    });
    assert.ok(next.usage!.input_tokens > 0);
  });

  test('every bad input is a 400 in OpenAI’s shape naming the field', async () => {
    await assertRefused({ model: 'tools', input: 'Hi', frequency_penalty: 1 }, 'frequency_penalty', 'unknown_parameter');
    await assertRefused({ model: 'tools' }, 'input', 'missing_required_parameter');
    await assertRefused({ model: 'tools', input: 'Hi', tools: [{ type: 'web_search' }] }, 'tools[0].type', 'unsupported_parameter');
    await assertRefused({ model: 'tools', input: 'Hi', tools: [{ type: 'function', name: 'bad name' }] }, 'tools[0].name');
    await assertRefused({ model: 'tools', input: [{ type: 'computer_call', id: 'x' }] }, 'input[0].type', 'unsupported_parameter');
    await assertRefused({ model: 'tools', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input[0].content[0].type');
    await assertRefused({ model: 'tools', input: [{ role: 'robot', content: 'Hi' }] }, 'input[0].role');
    await assertRefused(
      {
        model: 'tools',
        input: [
          { role: 'user', content: 'Hi' },
          { type: 'function_call_output', call_id: 'call_nowhere', output: '1' },
        ],
      },
      'input[1].call_id',
    );
    await assertRefused(
      { model: 'tools', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] }] },
      'input[0].content[0].image_url',
    );
    // A valid image to a model without image input: refused below the route, still named as sent.
    await assertRefused(
      {
        model: 'tools',
        instructions: 'Look.',
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is it?' },
              { type: 'input_image', image_url: pngDataUrl() },
            ],
          },
        ],
      },
      'input[0].content[1]',
    );
    await assertRefused({ model: 'tools', input: 'Hi', previous_response_id: 'resp_nothing' }, 'previous_response_id', 'response_not_found', 404);
    await assertRefused({ model: 'tools', input: 'Hi', background: true }, 'background', 'unsupported_parameter');
    await assertRefused({ model: 'tools', input: 'Hi', truncation: 'auto' }, 'truncation', 'unsupported_parameter');
    await assertRefused(
      { model: 'tools', input: 'Hi', include: ['reasoning.encrypted_content', 'message.output_text.logprobs'] },
      'include',
      'unsupported_parameter',
    );
    await assertRefused(
      { model: 'tools', input: 'Hi', reasoning: { summary: 'auto', generate_summary: 'detailed' } },
      'reasoning.generate_summary',
      'unsupported_parameter',
    );
    // Item ids are unique: input_items pages by them.
    await assertRefused(
      {
        model: 'tools',
        input: [
          { id: 'msg_1', role: 'user', content: 'Hi' },
          { id: 'msg_1', role: 'user', content: 'Again' },
        ],
      },
      'input[1].id',
    );
    await assertRefused({ model: 'tools', input: 'Hi', conversation: 'conv_1' }, 'conversation', 'unsupported_parameter');
    await assertRefused({ model: 'tools', input: 'Hi', tool_choice: { type: 'function', name: 'nothing' } }, 'tool_choice');
    // Chat's checks of tools, named as the Responses request spells them.
    const tool = { type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} } };
    await assertRefused({ model: 'tools', input: 'Hi', tools: [tool, tool] }, 'tools[1].name');
    await assertRefused({ model: 'tools', input: 'Hi', tools: [tool], tool_choice: { type: 'function', name: 'nothing' } }, 'tool_choice.name');
    await assertRefused({ model: 'tools', input: 'Hi', tools: [tool], text: { format: { type: 'json_object' } } }, 'text.format');
    await assertRefused({ model: 'tools', input: 'Hi', tools: [{ ...tool, parameters: { type: 'string' } }] }, 'tools[0].parameters');
    await assertRefused({ model: 'tools', input: 'Hi', text: { format: { type: 'json_schema', name: 'x' } } }, 'text.format.schema');
    await assertRefused(
      { model: 'tools', input: 'Hi', metadata: Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v'])) },
      'metadata',
    );
    await assertRefused({ model: 'tools', input: 'Hi', max_output_tokens: 0 }, 'max_output_tokens');
    await assertRefused({ model: 'tools', input: 'Hi', reasoning: { effort: 'extreme' } }, 'reasoning.effort');
    // Accepted as documented no-ops.
    const accepted = await raw('POST', '/v1/responses', {
      model: 'tools',
      input: 'Hi',
      max_output_tokens: 1,
      prompt_cache_key: 'k',
      service_tier: 'auto',
      truncation: 'disabled',
      store: false,
    });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  });

  test('a prompt beyond the context is a 400 naming input', async () => {
    const error = await assertRefused({ model: 'tools', input: 'Once upon a time '.repeat(400), max_output_tokens: 4 }, 'input', 'context_length_exceeded');
    assert.match(error.message, /context length/);
  });

  test('the guard: a model the key may not use is 403; the token budget is reserved up front', async () => {
    await assert.rejects(rig.client('narrow').responses.create({ model: 'tools', input: 'Hi', max_output_tokens: 2 }), OpenAI.PermissionDeniedError);
    await assert.rejects(rig.client('tokens').responses.create({ model: 'tools', input: 'Hi', max_output_tokens: 500 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'tokens_exceed_limit');
      return true;
    });
  });

  test('a full queue is the SDK RateLimitError with Retry-After', async () => {
    // `tools` has one sequence and max_queue = 1: a third concurrent request is refused.
    const long = () => alice.responses.create({ model: 'tools', input: 'A long story', max_output_tokens: 200, store: false });
    const running = [long(), long()];
    await new Promise((resolve) => setTimeout(resolve, 50));
    await assert.rejects(long(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'queue_full');
      assert.ok(Number(error.headers?.get('retry-after')) >= 1);
      return true;
    });
    await Promise.all(running);
  });

  test('a streaming client that disconnects stops its generation and frees its sequence', async () => {
    const scheduler = rig.gateway.gateway.registry.find('tools')!.scheduler!;
    const { port } = new URL(rig.gateway.url);
    const requestId = `responses-disconnect-${Date.now()}`;
    let deltas = 0;
    await new Promise<void>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/responses',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${RESPONSES_KEYS.alice}`, 'x-request-id': requestId },
        },
        (response) => {
          response.on('data', (chunk: Buffer) => {
            deltas += (chunk.toString().match(/event: response\.output_text\.delta/g) ?? []).length;
            if (deltas >= 5) {
              request.destroy();
              resolve();
            }
          });
          response.on('error', () => undefined);
        },
      );
      request.on('error', () => undefined);
      request.end(JSON.stringify({ model: 'tools', input: 'A long story', max_output_tokens: 900, temperature: 0.8, stream: true }));
      setTimeout(() => reject(new Error('no deltas')), 20_000).unref();
    });
    const started = performance.now();
    let line: Record<string, unknown> | undefined;
    while ((!line || scheduler.activeCount > 0) && performance.now() - started < 5_000) {
      line = rig.gateway.logs.find((record) => record.msg === 'request' && record.requestId === requestId);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(scheduler.activeCount, 0, 'the sequence was released');
    assert.equal(line?.status, 499, 'logged as a client that left');
    assert.ok(Number(line?.completionTokens) - deltas <= 8, `generated ${String(line?.completionTokens)} tokens, the client had ${deltas}`);
  });
});
