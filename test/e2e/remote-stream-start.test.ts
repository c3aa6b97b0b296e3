// When a stream's headers go out: with the engine's first event, or after a bounded wait without one
// (5 s), so that a long prompt still gets its headers and keep-alive comments. The engine is a
// remote model whose upstream (a real gateway serving the stories chat model) answers through a
// loopback proxy that holds its bytes back for 8 s.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { models } from '../helpers/paths.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

describe('streams: headers wait for the first event, within a bound', () => {
  let upstream: TestGateway;
  let proxy: TcpProxy;
  let gateway: TestGateway;

  before(async () => {
    upstream = await startTestGateway(`
[api.models.chat]
path = "${models.storiesChatml}"
type = "chat"
context_length = 512
threads = 1
parallel = 1
`);
    proxy = await startTcpProxy(new URL(upstream.url));
    gateway = await startTestGateway(`
[plugins.remote]
health_check_interval = 0

[api.models.chat]
backend = "remote"
type = "chat"
upstreams = ["${proxy.url}/v1"]
`);
  });

  after(async () => {
    await gateway?.close();
    await proxy?.close();
    await upstream?.close();
  });

  test('an upstream silent for 8 s: the headers go out after about 5 s, the text when it comes', async () => {
    proxy.holdMs = 8_000;
    const sent = performance.now();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 4, stream: true }),
    });
    const headersAfter = performance.now() - sent;
    assert.equal(response.status, 200);
    // The role chunk goes out with the headers; the text comes when the upstream's does.
    const text = await response.text();
    const endedAfter = performance.now() - sent;
    assert.ok(headersAfter >= 4_000 && headersAfter < 7_500, `the headers came after ${Math.round(headersAfter)} ms`);
    assert.ok(endedAfter >= 7_500, `the stream ended after ${Math.round(endedAfter)} ms`);
    assert.match(text, /"role":"assistant"/);
    assert.match(text, /data: \[DONE\]/);
  });
});
