// When a stream's headers go out: with the engine's first event, or after a bounded wait without one
// (5 s), so that a long prompt still gets its headers and keep-alive comments. The engine is a
// remote model whose upstream (a real gateway serving the stories chat model) answers through a
// loopback proxy that holds its bytes back for 8 s.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxiedRemote, type ProxiedRemote } from '../helpers/proxied-remote.js';

describe('streams: headers wait for the first event, within a bound', () => {
  let rig: ProxiedRemote;

  before(async () => {
    rig = await startProxiedRemote({ remotePlugin: 'health_check_interval = 0' });
  });

  after(async () => {
    await rig?.close();
  });

  test('an upstream silent for 8 s: the headers go out after about 5 s, the text when it comes', async () => {
    rig.proxy.holdMs = 8_000;
    const sent = performance.now();
    const response = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
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
