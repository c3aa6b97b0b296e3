// The remote plugin between real processes: a gateway whose models are served by two other
// switchyard processes (the stories260k chat model and the tiny ONNX embedder and reranker).
// Two hops must give what one hop gives; a killed upstream must not show to clients whose
// requests had not started; with every upstream gone, clients get a 503 with Retry-After.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';
import { billedUsage } from '../conformance/generation-checks.js';
import { waitFor } from '../helpers/wait-for.js';

const UPSTREAM = `
[api.models.chat]
path = "${models.storiesChatml}"
type = "chat"
context_length = 1024
threads = 1
parallel = 2

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

function gatewayConfig(upstreams: string[]): string {
  const list = JSON.stringify(upstreams.map((url) => `${url}/v1`));
  return `
[plugins.remote]
# Long enough that the failover test below runs before a health check notices the kill.
health_check_interval = 30
backoff_initial = 0.5
backoff_max = 5

[api.models.chat]
backend = "remote"
type = "chat"
upstreams = ${list}

[api.models.embed]
backend = "remote"
type = "embedding"
upstreams = ${list}

[api.models.rank]
backend = "remote"
type = "rerank"
upstreams = ${list}
`;
}

const user = (content: string): OpenAI.Chat.ChatCompletionMessageParam => ({ role: 'user', content });

async function streamedTexts(client: OpenAI, request: OpenAI.Chat.ChatCompletionCreateParamsStreaming) {
  const texts: string[] = [];
  let usage: OpenAI.CompletionUsage | undefined;
  let finish: string | null = null;
  for await (const chunk of await client.chat.completions.create(request)) {
    const choice = chunk.choices[0];
    if (choice?.delta?.content) texts.push(choice.delta.content);
    finish = choice?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  return { texts, usage, finish };
}

function requestsServed(upstream: GatewayProcess, path: string): Array<Record<string, unknown>> {
  return upstream.logs.filter((line) => line.msg === 'request' && line.path === path);
}

describe('remote plugin: switchyard in front of two switchyard upstreams', () => {
  let first: GatewayProcess;
  let second: GatewayProcess;
  let gateway: TestGateway;
  let direct: OpenAI;

  before(async () => {
    [first, second] = await Promise.all([startGatewayProcess(UPSTREAM), startGatewayProcess(UPSTREAM)]);
    // Upstreams listen before their models are loaded: wait until they are ready.
    for (const upstream of [first, second]) {
      await waitFor(() => upstream.logs.filter((line) => line.msg === 'model ready').length === 3, 60_000, 'upstream models');
    }
    gateway = await startTestGateway(gatewayConfig([first.url, second.url]));
    direct = new OpenAI({ baseURL: `${first.url}/v1`, apiKey: 'sk-direct', maxRetries: 0 });
  });

  after(async () => {
    await gateway?.close();
    await Promise.all([first?.stop('SIGKILL'), second?.stop('SIGKILL')]);
  });

  test('streaming through two hops gives the same chunks, finish and exact usage as one hop', async () => {
    const request: OpenAI.Chat.ChatCompletionCreateParamsStreaming = {
      model: 'chat',
      messages: [user('Tell me a story about a cat.')],
      max_tokens: 48,
      temperature: 0,
      seed: 7,
      stream: true,
      stream_options: { include_usage: true },
    };
    const oneHop = await streamedTexts(direct, request);
    const twoHops = await streamedTexts(gateway.client, request);
    assert.ok(oneHop.texts.length > 5);
    assert.deepEqual(twoHops.texts, oneHop.texts);
    assert.equal(twoHops.finish, oneHop.finish);
    // The second run of the prompt finds it cached upstream: the charge is the same, the cache breakdown is the upstream's own.
    assert.deepEqual(billedUsage(twoHops.usage), billedUsage(oneHop.usage), 'usage comes from the upstream, not from the estimate');
    assert.ok(twoHops.usage!.prompt_tokens_details!.cached_tokens! > 0, "the upstream's cached_tokens are relayed");
  });

  test('non-streamed chat and text completions are forwarded', async () => {
    const chatRequest = { model: 'chat', messages: [user('Once upon a time')], max_tokens: 20, temperature: 0 };
    const [viaGateway, viaDirect] = await Promise.all([gateway.client.chat.completions.create(chatRequest), direct.chat.completions.create(chatRequest)]);
    assert.equal(viaGateway.choices[0].message.content, viaDirect.choices[0].message.content);
    assert.deepEqual(billedUsage(viaGateway.usage), billedUsage(viaDirect.usage));
    const textRequest = { model: 'chat', prompt: 'The dog', max_tokens: 12, temperature: 0 };
    const [text, textDirect] = await Promise.all([gateway.client.completions.create(textRequest), direct.completions.create(textRequest)]);
    assert.equal(text.choices[0].text, textDirect.choices[0].text);
    assert.deepEqual(billedUsage(text.usage), billedUsage(textDirect.usage));
  });

  test('embeddings and rerank are forwarded', async () => {
    const input = ['a small cat', 'the stock market fell'];
    const [viaGateway, viaDirect] = await Promise.all([
      gateway.client.embeddings.create({ model: 'embed', input }),
      direct.embeddings.create({ model: 'embed', input }),
    ]);
    assert.equal(viaGateway.data.length, 2);
    viaGateway.data.forEach((item, index) => {
      assert.equal(item.embedding.length, viaDirect.data[index].embedding.length);
      item.embedding.forEach((value, position) => assert.ok(Math.abs(value - viaDirect.data[index].embedding[position]) < 1e-6));
    });
    assert.deepEqual(viaGateway.usage, viaDirect.usage);
    const rerank = async (url: string) => {
      const response = await fetch(`${url}/v1/rerank`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'rank', query: 'cats', documents: ['dogs bark', 'cats purr', 'rain'] }),
      });
      assert.equal(response.status, 200);
      return (await response.json()) as { results: Array<{ index: number; relevance_score: number }>; usage: unknown };
    };
    const [rankedGateway, rankedDirect] = await Promise.all([rerank(gateway.url), rerank(first.url)]);
    assert.deepEqual(
      rankedGateway.results.map((result) => result.index),
      rankedDirect.results.map((result) => result.index),
    );
    rankedGateway.results.forEach((result, position) => assert.ok(Math.abs(result.relevance_score - rankedDirect.results[position].relevance_score) < 1e-6));
    assert.deepEqual(rankedGateway.usage, rankedDirect.usage);
  });

  test('requests are spread over both upstreams', async () => {
    const before = [first, second].map((upstream) => requestsServed(upstream, '/v1/chat/completions').length);
    await Promise.all(Array.from({ length: 8 }, () => gateway.client.chat.completions.create({ model: 'chat', messages: [user('Hi')], max_tokens: 4 })));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const served = [first, second].map((upstream, index) => requestsServed(upstream, '/v1/chat/completions').length - before[index]);
    assert.equal(served[0] + served[1], 8);
    assert.ok(served[0] >= 2 && served[1] >= 2, `served ${served.join(' and ')}`);
  });

  test('a client that leaves cancels the upstream request', async () => {
    const beforeCount = requestsServed(first, '/v1/chat/completions').length + requestsServed(second, '/v1/chat/completions').length;
    await new Promise<void>((resolve, reject) => {
      const request = http.request(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
      request.end(JSON.stringify({ model: 'chat', messages: [user('Tell me a very long story.')], max_tokens: 900, temperature: 1, stream: true }));
    });
    await waitFor(
      () => requestsServed(first, '/v1/chat/completions').length + requestsServed(second, '/v1/chat/completions').length > beforeCount,
      10_000,
      'the upstream access line',
    );
    const last = [first, second]
      .flatMap((upstream) => requestsServed(upstream, '/v1/chat/completions'))
      .sort((left, right) => Number(left.time) - Number(right.time))
      .at(-1)!;
    assert.equal(last.status, 499, JSON.stringify(last));
    assert.ok(Number(last.completionTokens ?? 0) < 900);
  });

  test('the gateway loads remote models from the command line too', async () => {
    const process = await startGatewayProcess(gatewayConfig([first.url, second.url]));
    try {
      const client = new OpenAI({ baseURL: `${process.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
      await waitFor(() => process.logs.some((line) => line.msg === 'model ready' && line.model === 'chat'), 10_000, 'the remote model');
      const completion = await client.chat.completions.create({ model: 'chat', messages: [user('Hi')], max_tokens: 3 });
      assert.equal(completion.usage?.completion_tokens, 3);
      assert.ok(process.logs.some((line) => line.msg === 'plugin loaded' && line.plugin === 'remote'));
    } finally {
      await process.stop();
    }
  });

  test('one upstream killed: requests that had not started succeed on the other, with no error', async () => {
    await first.stop('SIGKILL');
    // Right away, before a health check has noticed: the failed attempts are retried.
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => gateway.client.chat.completions.create({ model: 'chat', messages: [user('Hello there')], max_tokens: 6 })),
      ...Array.from({ length: 3 }, () => streamedTexts(gateway.client, { model: 'chat', messages: [user('A story')], max_tokens: 6, stream: true })),
      gateway.client.embeddings.create({ model: 'embed', input: 'still here' }),
    ]);
    assert.equal(results.length, 10);
    for (const result of results.slice(0, 6)) assert.equal((result as OpenAI.ChatCompletion).usage?.completion_tokens, 6);
    for (const result of results.slice(6, 9)) assert.ok((result as { texts: string[] }).texts.length > 0);
    assert.ok(
      gateway.logs.some((line) => line.msg === 'upstream request failed; trying the next upstream' && line.upstream === `${first.url}/v1`),
      'attempts on the killed upstream were retried',
    );
    assert.ok(!gateway.logs.some((line) => line.msg === 'upstream failed mid-response'));
    const models = (await gateway.client.models.list()).data as unknown as Array<{
      id: string;
      metadata: { details: { upstreams: Array<{ url: string; status: string }> } };
    }>;
    const upstreams = models.find((model) => model.id === 'chat')!.metadata.details.upstreams;
    assert.deepEqual(
      upstreams.map((upstream) => upstream.status),
      ['down', 'up'],
    );
    // Later requests keep succeeding on the survivor.
    for (let index = 0; index < 4; index++) await gateway.client.chat.completions.create({ model: 'chat', messages: [user('Again')], max_tokens: 2 });
  });

  test('every upstream down: a 503 with Retry-After', async () => {
    await second.stop('SIGKILL');
    for (const body of [
      { path: '/v1/chat/completions', json: { model: 'chat', messages: [user('Anyone?')], max_tokens: 2 } },
      { path: '/v1/chat/completions', json: { model: 'chat', messages: [user('Anyone?')], max_tokens: 2, stream: true } },
      { path: '/v1/embeddings', json: { model: 'embed', input: 'x' } },
    ]) {
      const response = await fetch(`${gateway.url}${body.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body.json),
      });
      assert.equal(response.status, 503, body.path);
      assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
      const envelope = (await response.json()) as { error: { type: string; code: string; message: string } };
      assert.equal(envelope.error.type, 'service_unavailable_error');
      assert.equal(envelope.error.code, 'upstream_unavailable');
      assert.doesNotMatch(envelope.error.message, /127\.0\.0\.1/, 'upstream addresses stay out of client messages');
    }
    await assert.rejects(
      gateway.client.chat.completions.create({ model: 'chat', messages: [user('Anyone?')], max_tokens: 2 }),
      (error: unknown) => error instanceof OpenAI.InternalServerError && error.status === 503,
    );
  });
});
