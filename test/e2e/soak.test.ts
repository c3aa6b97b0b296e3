// A bounded soak: about a minute of mixed chat and embedding traffic at concurrency 16, with
// config reloads that replace the chat model under load. No 5xx, every request answered exactly
// once, memory growth bounded. SOAK_SECONDS shortens or lengthens it.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import OpenAI from 'openai';
import { models } from '../helpers/paths.js';
import { startTestGateway } from '../helpers/test-gateway.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const CONCURRENCY = 16;

function config(maxQueue: number): string {
  return `
[api]
watch_config = false

[api.models.chat]
path = "${models.storiesChatml}"
type = "chat"
context_length = 1024
threads = 2
parallel = 4
max_queue = ${maxQueue}

[api.models.embed]
path = "${models.embedOnnx}"
type = "embedding"
intra_op_threads = 1
`;
}

test(`soak: ${SECONDS} s of mixed traffic at concurrency ${CONCURRENCY} with reloads`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const gateway = await startTestGateway(config(64));
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-soak', maxRetries: 0, timeout: 60_000 });
  const ids = new Set<string>();
  const failures: string[] = [];
  let completed = 0;
  let started = 0;
  let reloads = 0;
  const deadline = Date.now() + SECONDS * 1000;
  let rssAfterWarmup = 0;

  const one = async (index: number) => {
    started++;
    try {
      if (index % 3 === 0) {
        const result = await client.embeddings.create({ model: 'embed', input: [`sentence ${index}`, 'another one'] });
        assert.equal(result.data.length, 2);
      } else if (index % 3 === 1) {
        const result = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `Story ${index}` }], max_tokens: 16 });
        assert.ok(!ids.has(result.id), 'no duplicated response');
        ids.add(result.id);
      } else {
        const stream = await client.chat.completions.create({
          model: 'chat',
          messages: [{ role: 'user', content: `Stream ${index}` }],
          max_tokens: 16,
          stream: true,
        });
        let finished = false;
        for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) finished = true;
        assert.ok(finished, 'the stream finished');
      }
      completed++;
    } catch (error) {
      failures.push(`${index}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const worker = async (offset: number) => {
    for (let index = offset; Date.now() < deadline; index += CONCURRENCY) await one(index);
  };
  const reloader = async () => {
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(8_000, (SECONDS * 1000) / 5)));
      if (Date.now() >= deadline) break;
      if (rssAfterWarmup === 0) rssAfterWarmup = process.memoryUsage().rss;
      reloads++;
      // A changed max_queue makes the chat model a changed model: a new instance takes over.
      await writeFile(gateway.configFile, config(64 + (reloads % 2)));
      await gateway.gateway.reload();
    }
  };
  try {
    await Promise.all([...Array.from({ length: CONCURRENCY }, (_, offset) => worker(offset)), reloader()]);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failures`);
    assert.equal(completed, started, 'every request was answered');
    assert.ok(reloads >= 2, `reloads: ${reloads}`);
    const rssGrowth = process.memoryUsage().rss - rssAfterWarmup;
    assert.ok(rssGrowth < 200 * 1024 * 1024, `RSS grew by ${(rssGrowth / 1048576).toFixed(0)} MB`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(gateway.gateway.registry.retiringCount(), 0, 'replaced instances were unloaded');
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /switchyard_requests_total\{[^}]*status="5\d\d"\}/);
    console.log(`soak: ${completed} requests, ${reloads} reloads, RSS growth ${((process.memoryUsage().rss - rssAfterWarmup) / 1048576).toFixed(0)} MB`);
  } finally {
    await gateway.close();
  }
});
