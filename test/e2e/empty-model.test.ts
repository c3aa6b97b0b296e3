// `"model": ""` means the same as an omitted model on every endpoint that takes one: the one
// model that can serve the endpoint (SDK examples and clients with no model setting send "").
// Real engines: the llama.cpp chat model and the ONNX embedder and reranker.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

const chatModel = (id: string) => `
[api.models.${id}]
path = "${models.storiesChatml}"
type = "chat"
context_length = 256
threads = 1
`;

const CONFIG = `${chatModel('chat')}
[api.models.embed]
path = "${models.embedOnnx}"
type = "embedding"
execution_providers = ["cpu"]
intra_op_threads = 1

[api.models.rank]
path = "${models.rerankOnnx}"
type = "rerank"
execution_providers = ["cpu"]
intra_op_threads = 1
`;

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('"model": "" on every endpoint', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(CONFIG);
  });
  after(() => gateway.close());

  test('chat and text completions, streamed or not, use the one model that can serve them', async () => {
    const chat = await gateway.client.chat.completions.create({ model: '', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 });
    assert.equal(chat.model, 'chat');
    let streamedModel = '';
    for await (const chunk of await gateway.client.chat.completions.create({
      model: '',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 3,
      stream: true,
    }))
      streamedModel = chunk.model;
    assert.equal(streamedModel, 'chat');
    const text = await gateway.client.completions.create({ model: '', prompt: 'Once', max_tokens: 3 });
    assert.equal(text.model, 'chat');
  });

  test('embeddings and rerank too', async () => {
    const vectors = await gateway.client.embeddings.create({ model: '', input: 'a cat' });
    assert.equal(vectors.model, 'embed');
    assert.equal(vectors.data.length, 1);
    for (const path of ['/v1/rerank', '/rerank']) {
      const { status, json } = await post(`${gateway.url}${path}`, { model: '', query: 'cats', documents: ['dogs bark', 'cats purr'] });
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(json.model, 'rank');
    }
  });
});

describe('"model": "" with several candidates', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway(`${chatModel('first')}${chatModel('second')}`);
  });
  after(() => gateway.close());

  test('is the same 400 as an omitted model, naming the candidates', async () => {
    const omitted = await post(`${gateway.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
    const empty = await post(`${gateway.url}/v1/chat/completions`, { model: '', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
    assert.equal(empty.status, 400);
    assert.deepEqual(empty.json, omitted.json);
    assert.match(String((empty.json.error as { message: string }).message), /first, second/);
    await assert.rejects(
      gateway.client.chat.completions.create({ model: '', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.code === 'missing_required_parameter' && error.param === 'model',
    );
  });
});
