// Stored responses outlive the gateway process that made them, with the official openai SDK: in
// the SQLite file (the default store) across a restart of the gateway, and in Redis across
// replicas, where a response one replica made is read, continued and deleted on another.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startResponsesGateway, type ResponsesGateway } from '../helpers/responses-gateway.js';

/** Asks for a response, then continues it: the continuation's prompt holds the first exchange. */
async function converse(first: OpenAI, second: OpenAI): Promise<void> {
  const opening = await first.responses.create({ model: 'tools', input: 'Once upon a time', max_output_tokens: 4, temperature: 0 });
  assert.equal(opening.status, 'incomplete');
  const stored = await second.responses.retrieve(opening.id);
  assert.deepEqual(stored.output, opening.output, 'the stored response is the one returned');
  const items = await second.responses.inputItems.list(opening.id);
  assert.equal(items.data.length, 1);
  const followUp = await second.responses.create({ model: 'tools', previous_response_id: opening.id, input: 'Go on.', max_output_tokens: 2, temperature: 0 });
  assert.equal(followUp.previous_response_id, opening.id);
  // The conversation so far is in the prompt: more than the first prompt and its reply.
  assert.ok(
    followUp.usage!.input_tokens > opening.usage!.input_tokens + opening.usage!.output_tokens,
    `continuation prompt ${followUp.usage!.input_tokens} tokens, first exchange ${opening.usage!.input_tokens} + ${opening.usage!.output_tokens}`,
  );
  // The SDK types the deletion as void; the body is OpenAI's {id, object: "response.deleted", deleted}.
  const deleted = (await second.responses.delete(opening.id)) as unknown as { deleted: boolean };
  assert.equal(deleted.deleted, true);
  await assert.rejects(first.responses.retrieve(opening.id), (error: unknown) => error instanceof OpenAI.NotFoundError);
}

describe('stored responses in the SQLite file survive a restart of the gateway', () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'switchyard-responses-'));
  const storeToml = `\n[api.responses]\npath = "${path.join(folder, 'responses.sqlite')}"\n`;
  after(() => rmSync(folder, { recursive: true, force: true }));

  test('a response made before the restart is read, listed and continued after it', async () => {
    let rig: ResponsesGateway | undefined = await startResponsesGateway(storeToml);
    let opening: OpenAI.Responses.Response;
    try {
      opening = await rig.client('alice').responses.create({ model: 'tools', input: 'Once upon a time', max_output_tokens: 4, temperature: 0 });
    } finally {
      await rig.close();
    }
    rig = await startResponsesGateway(storeToml);
    try {
      const alice = rig.client('alice');
      const stored = await alice.responses.retrieve(opening.id);
      assert.deepEqual(stored, opening);
      await assert.rejects(rig.client('bob').responses.retrieve(opening.id), (error: unknown) => error instanceof OpenAI.NotFoundError);
      const followUp = await alice.responses.create({
        model: 'tools',
        previous_response_id: opening.id,
        input: 'Go on.',
        max_output_tokens: 2,
        temperature: 0,
      });
      assert.ok(followUp.usage!.input_tokens > opening.usage!.input_tokens + opening.usage!.output_tokens);
      // The continuation is stored too, and can be continued in turn.
      const third = await alice.responses.create({ model: 'tools', previous_response_id: followUp.id, input: 'And?', max_output_tokens: 1, temperature: 0 });
      assert.ok(third.usage!.input_tokens > followUp.usage!.input_tokens);
    } finally {
      await rig.close();
    }
  });
});

describe('stored responses in Redis are shared by replicas', () => {
  let redis: RedisServer;
  let replicas: ResponsesGateway[] = [];
  before(async () => {
    redis = await startRedisServer();
    // [api.responses] follows [api.rate_limit] into Redis when it names no store of its own.
    const toml = `\n[api.rate_limit]\nstore = "redis"\nredis_url = "${redis.url}"\nkey_prefix = "responses-${process.pid}"\n`;
    replicas = [await startResponsesGateway(toml), await startResponsesGateway(toml)];
  });
  after(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    await redis?.stop();
  });

  test('a response made on one replica is read, continued and deleted on the other', async () => {
    await converse(replicas[0].client('alice'), replicas[1].client('alice'));
  });
});
