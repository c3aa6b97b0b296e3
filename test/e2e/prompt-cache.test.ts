// usage.prompt_tokens_details.cached_tokens, as OpenAI reports it, on the engines that keep a
// prompt cache: 0 on a model's first request, the shared prefix on a request that repeats a long
// one, in non-streamed answers and in the stream's usage chunk alike, on both endpoints; counted
// once per prompt, as prompt_tokens is, whatever `n`. The remote backend relays its upstream's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { collect } from '../conformance/generation-checks.js';
import { llamaServerTargets, serveLocal, serveRemote, type ServedModel } from '../conformance/served-model.js';
import { models } from '../helpers/paths.js';

const CHAT_MODEL = `
path = "${models.storiesChatml}"
type = "chat"
context_length = 1024
threads = 1
parallel = 1
`;

/** A prefix long enough that a cache hit is unmistakable (a few hundred tokens of this model). */
const LONG_PREFIX = Array.from({ length: 12 }, (_, line) => `Line ${line}: the little dog ran to the park and met a big friendly cat there.`).join('\n');

interface Engine {
  name: string;
  features: Record<string, never>;
  start: () => Promise<ServedModel>;
}

const ENGINES: Engine[] = [
  { name: 'llama', features: {}, start: () => serveLocal(CHAT_MODEL) },
  ...llamaServerTargets({ name: 'llama-server', features: {}, start: () => serveLocal(`backend = "llama-server"${CHAT_MODEL}`) }),
  ...llamaServerTargets({ name: 'remote (to llama-server)', features: {}, start: () => serveRemote(`backend = "llama-server"${CHAT_MODEL}`, 'type = "chat"') }),
];

function cachedOf(usage: OpenAI.CompletionUsage | null | undefined): number {
  const cached = usage?.prompt_tokens_details?.cached_tokens;
  assert.ok(Number.isInteger(cached), `usage.prompt_tokens_details.cached_tokens is a whole number: ${JSON.stringify(usage)}`);
  assert.ok(cached! >= 0 && cached! <= usage!.prompt_tokens, `cached_tokens ${cached} within prompt_tokens ${usage!.prompt_tokens}`);
  return cached!;
}

for (const engine of ENGINES) {
  describe(`prompt cache: ${engine.name}`, () => {
    let served: ServedModel;
    before(async () => {
      served = await engine.start();
    });
    after(() => served?.close());

    test('the first request finds nothing cached; one that repeats its long prefix finds most of it, streamed or not', async () => {
      const { client, model } = served;
      const first = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: `${LONG_PREFIX}\nQuestion one?` }],
        max_tokens: 2,
        temperature: 0,
      });
      assert.equal(cachedOf(first.usage), 0, 'a fresh model has nothing cached');
      const prefixTokens = first.usage!.prompt_tokens;
      assert.ok(prefixTokens > 200, `a long prompt: ${prefixTokens} tokens`);

      const repeated = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: `${LONG_PREFIX}\nQuestion two?` }],
        max_tokens: 2,
        temperature: 0,
      });
      const cached = cachedOf(repeated.usage);
      assert.ok(cached > prefixTokens * 0.8, `the shared prefix is cached: ${cached} of ${repeated.usage!.prompt_tokens}`);
      assert.ok(cached < repeated.usage!.prompt_tokens, 'the new tail is not');

      const chunks = await collect(
        await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: `${LONG_PREFIX}\nQuestion three?` }],
          max_tokens: 2,
          temperature: 0,
          stream: true,
          stream_options: { include_usage: true },
        }),
      );
      const usageChunk = chunks.at(-1)!;
      assert.deepEqual(usageChunk.choices, []);
      assert.ok(cachedOf(usageChunk.usage) > prefixTokens * 0.8, `the stream's usage chunk says so too: ${JSON.stringify(usageChunk.usage)}`);
    });

    test('text completions report it too, and n choices of one prompt count it once', async () => {
      const { client, model } = served;
      const prompt = `${LONG_PREFIX}\nThe end.`;
      await client.completions.create({ model, prompt, max_tokens: 2, temperature: 0 });
      const again = await client.completions.create({ model, prompt, max_tokens: 2, temperature: 0 });
      assert.ok(cachedOf(again.usage) > again.usage!.prompt_tokens * 0.8, JSON.stringify(again.usage));

      const streamed = await collect(
        await client.completions.create({ model, prompt, max_tokens: 2, temperature: 0, stream: true, stream_options: { include_usage: true } }),
      );
      assert.ok(cachedOf(streamed.at(-1)!.usage) > again.usage!.prompt_tokens * 0.8);

      // Every choice runs on the prompt cached just now: summed over choices, it would pass prompt_tokens.
      const twice = await client.completions.create({ model, prompt, max_tokens: 2, temperature: 1, seed: 3, n: 2 });
      assert.equal(twice.usage!.prompt_tokens, again.usage!.prompt_tokens, 'prompt tokens are counted once for n choices');
      assert.ok(cachedOf(twice.usage) > again.usage!.prompt_tokens * 0.8, JSON.stringify(twice.usage));
    });
  });
}
