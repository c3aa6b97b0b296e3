// The gateway as an operator runs it, in its own process: signals, graceful shutdown, and the
// memory an unload gives back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApp } from '../../src/server/app.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { models } from '../helpers/paths.js';
import { startTestGateway } from '../helpers/test-gateway.js';

const ADMIN = 'sk-admin-process-0';

function storyConfig(extra: string, model = '', context = 2048): string {
  return `
[api]
require_auth = true
api_key = "${ADMIN}"
${extra}

[api.models.story]
path = "${models.stories}"
type = "completion"
context_length = ${context}
threads = 1
${model}
`;
}

/** Reads an SSE response to the end; returns its data frames. */
async function readFrames(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((frame) => frame.startsWith('data: '))
    .map((frame) => frame.slice('data: '.length));
}

function streamRequest(url: string, maxTokens: number): Promise<Response> {
  return fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'story', prompt: 'Once upon a time', max_tokens: maxTokens, temperature: 0.8, stream: true }),
  });
}

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await fetch(`${url}/ready`)).status !== 200) {
    if (Date.now() > deadline) throw new Error('the gateway never became ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function rssOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^switchyard_process_resident_memory_bytes (\d+)/m.exec(text)![1]);
}

describe('signals and shutdown', () => {
  test('SIGTERM: a stream in flight finishes with [DONE], new connections are refused, exit 0', async () => {
    const gateway = await startGatewayProcess(storyConfig('shutdown_grace = 30'));
    await waitReady(gateway.url);
    const response = await streamRequest(gateway.url, 300);
    assert.equal(response.status, 200);
    const exitCode = gateway.stop('SIGTERM');
    const frames = await readFrames(response);
    assert.equal(frames.at(-1), '[DONE]');
    assert.equal(JSON.parse(frames.at(-2)!).choices[0].finish_reason, 'length');
    assert.equal(await exitCode, 0);
    await assert.rejects(fetch(`${gateway.url}/health`));
    assert.ok(gateway.logs.some((record) => record.msg === 'stopped'));
  });

  test('past shutdown_grace, a stream ends with an error event and the process still exits 0', async () => {
    const gateway = await startGatewayProcess(storyConfig('shutdown_grace = 0.2'));
    await waitReady(gateway.url);
    const response = await streamRequest(gateway.url, 2000);
    const reader = readFrames(response);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exitCode = gateway.stop('SIGTERM');
    const frames = await reader;
    const last = JSON.parse(frames.at(-1)!) as { error?: { code: string; type: string } };
    assert.equal(last.error?.code, 'shutting_down');
    assert.equal(last.error?.type, 'service_unavailable_error');
    assert.equal(await exitCode, 0);
  });

  test('SIGHUP reloads the config', async () => {
    const gateway = await startGatewayProcess(storyConfig('watch_config = false'));
    try {
      gateway.child.kill('SIGHUP');
      const deadline = Date.now() + 10_000;
      while (!gateway.logs.some((record) => record.msg === 'config reloaded') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(gateway.logs.some((record) => record.msg === 'config reloaded'));
    } finally {
      assert.equal(await gateway.stop('SIGINT'), 0);
    }
  });

  test('/ready turns 503 once shutdown begins', async () => {
    const gateway = await startTestGateway(storyConfig(''), { apiKey: ADMIN });
    // The listening socket closes at once, so /ready is asked of a second app on the same state.
    const closing = gateway.gateway.close({ graceMs: 2_000 });
    const probe = createApp(gateway.gateway.state).callback();
    const { createServer } = await import('node:http');
    const server = createServer(probe).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as { port: number };
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { reason: string }).reason, 'shutting down');
      const refused = await fetch(`http://127.0.0.1:${port}/v1/models`, { headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('connection'), 'close');
    } finally {
      server.close();
      await closing;
    }
  });
});

describe('unloading frees memory', () => {
  test('admin unload gives the in-process engine memory back (process RSS), load takes it again', async () => {
    // A large context across 8 sequences makes the KV cache big enough to see in RSS (~80 MB). The
    // in-process engine's: a llama-server model's memory is its own process's, which unload ends.
    const gateway = await startGatewayProcess(storyConfig('', 'parallel = 8\nbackend = "llama"', 16384));
    try {
      await waitReady(gateway.url);
      const loaded = await rssOf(gateway.url);
      const unload = await fetch(`${gateway.url}/v1/admin/models/story/unload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(unload.status, 200);
      const unloaded = await rssOf(gateway.url);
      assert.ok(loaded - unloaded > 40 * 1024 * 1024, `RSS ${loaded} → ${unloaded}`);
      const load = await fetch(`${gateway.url}/v1/admin/models/story/load`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(load.status, 200);
      assert.ok((await rssOf(gateway.url)) - unloaded > 40 * 1024 * 1024);
    } finally {
      await gateway.stop();
    }
  });
});
