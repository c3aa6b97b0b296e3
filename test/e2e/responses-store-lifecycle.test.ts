// The response store across reloads and failures, end to end: a reload that moves the store while
// a response is generating (the response is still stored; the old store closes after), a lowered
// retention (older responses expire at once), what a stored conversation keeps (no reasoning items,
// a size cap refused by name before generating), and an unreachable store (a 503, or a stream that
// ends with response.failed and error instead of hanging).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { responsesGatewayConfig, RESPONSES_KEYS, startResponsesGateway, type ResponsesGateway } from '../helpers/responses-gateway.js';

const MAX_RESPONSE_BYTES = 6_000;

describe('the response store across reloads and failures', () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'switchyard-responses-'));
  const fileA = path.join(folder, 'a.sqlite');
  const fileB = path.join(folder, 'b.sqlite');
  const storeToml = (file: string, more = '') => `\n[api.responses]\npath = "${file}"\nmax_response_bytes = ${MAX_RESPONSE_BYTES}\n${more}\n`;
  let rig: ResponsesGateway;
  let alice: OpenAI;

  /** Rewrites the config with another [api.responses] and reloads it. */
  const reloadWith = async (extraToml: string) => {
    writeFileSync(rig.gateway.configFile, await responsesGatewayConfig(extraToml));
    await rig.gateway.gateway.reload();
  };

  before(async () => {
    rig = await startResponsesGateway(storeToml(fileA));
    alice = rig.client('alice');
  });
  after(async () => {
    await rig.close();
    rmSync(folder, { recursive: true, force: true });
  });

  test('a reload that moves the store while a response generates: the response is stored, the old store is closed after', async () => {
    const reply = await fetch(`${rig.gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${RESPONSES_KEYS.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tools', input: 'Count from one to fifty:', max_output_tokens: 48, temperature: 0, stream: true }),
    });
    assert.equal(reply.status, 200);
    const reader = reply.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let reloaded = false;
    for (let reads = 0; reads < 10_000 && !/event: response\.(completed|incomplete|failed)/.test(text); reads++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      if (!reloaded && text.includes('response.output_text.delta')) {
        assert.ok(existsSync(`${fileA}-wal`), 'the first store is open');
        await reloadWith(storeToml(fileB));
        reloaded = true;
      }
    }
    await reader.cancel().catch(() => {});
    assert.ok(reloaded, 'the reload came while the response was generating');
    assert.doesNotMatch(text, /event: (error|response\.failed)/);
    const id = /"id":"(resp_[^"]+)"/.exec(text)![1];
    const stored = await alice.responses.retrieve(id);
    assert.equal(stored.id, id);
    // SQLite removes the -wal file when its last connection closes.
    for (let attempt = 0; attempt < 100 && existsSync(`${fileA}-wal`); attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(!existsSync(`${fileA}-wal`), 'the replaced store was closed');
  });

  test('the stored history leaves reasoning items out; a continuation past max_response_bytes is refused by name', async () => {
    const thought = await alice.responses.create({ model: 'think', input: 'Hi', max_output_tokens: 12, temperature: 0 });
    assert.ok(
      thought.output.some((item) => item.type === 'reasoning'),
      `a reasoning item in ${JSON.stringify(thought.output)}`,
    );
    const followUp = await alice.responses.create({ model: 'think', previous_response_id: thought.id, input: 'Go on.', max_output_tokens: 2, temperature: 0 });
    const database = new Database(fileB, { readonly: true });
    try {
      const row = database.prepare('SELECT history FROM responses WHERE id = ?').get(followUp.id) as { history: string };
      const history = JSON.parse(row.history) as Array<{ type?: string }>;
      assert.ok(history.length > 0);
      assert.ok(!history.some((item) => item.type === 'reasoning'), row.history);
    } finally {
      database.close();
    }
    // The response itself still returns its reasoning.
    assert.deepEqual((await alice.responses.retrieve(thought.id)).output, thought.output);

    // Longer than the model's context too: refused for its size first, before any generation.
    const long = 'word '.repeat(MAX_RESPONSE_BYTES / 5);
    await assert.rejects(alice.responses.create({ model: 'tools', previous_response_id: followUp.id, input: long, max_output_tokens: 1 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.equal(error.param, 'previous_response_id');
      assert.equal(error.code, 'response_too_large');
      assert.match(error.message, /max_response_bytes/);
      return true;
    });
  });

  test('a lowered retention_hours expires the responses stored before it', async () => {
    const kept = await alice.responses.create({ model: 'tools', input: 'Hello', max_output_tokens: 1, temperature: 0 });
    // 0.0001 hours: 0.36 s.
    await reloadWith(storeToml(fileB, 'retention_hours = 0.0001'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await assert.rejects(alice.responses.retrieve(kept.id), (error: unknown) => error instanceof OpenAI.NotFoundError);
  });

  test('with the store unreachable: a 503 response_store_unavailable, and a stream that ends with response.failed and error', async () => {
    await reloadWith('\n[api.responses]\nstore = "redis"\nredis_url = "redis://127.0.0.1:1"\n');
    await assert.rejects(alice.responses.create({ model: 'tools', input: 'Hello', max_output_tokens: 1, temperature: 0 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError && error.status === 503, String(error));
      assert.equal(error.code, 'response_store_unavailable');
      return true;
    });
    const reply = await fetch(`${rig.gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${RESPONSES_KEYS.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tools', input: 'Hello', max_output_tokens: 1, temperature: 0, stream: true }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await reply.text();
    const events = [...text.matchAll(/^event: (\S+)$/gm)].map((match) => match[1]);
    assert.deepEqual(events.slice(-2), ['response.failed', 'error'], text);
    assert.ok(!events.includes('response.completed'));
  });
});
