// An upstream that closes idle keep-alive connections (llama-server does) must not look down: a
// request sent on a connection the upstream has just closed fails before any response byte, and
// the gateway retries it once on a fresh connection. The upstream is a real gateway serving the
// stories chat model, behind a loopback TCP proxy that drops a connection whose next request
// comes after an idle pause, half of them with a FIN (undici: "other side closed") and half with
// a reset (ECONNRESET): the race between a server's idle close and the client's next request,
// made to happen every time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProxiedRemote, type ProxiedRemote } from '../helpers/proxied-remote.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('remote: an upstream that closes idle keep-alive connections', () => {
  let rig: ProxiedRemote;

  // A long backoff: an upstream marked down even once would answer 503 for the rest of the test.
  // Health checks run between the requests and go through the same connections.
  before(async () => {
    rig = await startProxiedRemote({ proxy: { dropIdleAfterMs: 100 }, remotePlugin: 'health_check_interval = 0.4\nbackoff_initial = 60\nbackoff_max = 60' });
  });

  after(async () => {
    await rig?.close();
  });

  test('requests with pauses between them all succeed, and the upstream is never marked down', async () => {
    // 'ok', an HTTP status, or 'error frame' (a stream that failed after its 200).
    const outcomes: string[] = [];
    for (let index = 0; index < 8; index++) {
      await pause(250);
      const stream = index % 2 === 1;
      const response = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 8, stream }),
      });
      const text = await response.text();
      if (response.status !== 200) outcomes.push(String(response.status));
      else outcomes.push(stream && !text.includes('data: [DONE]') ? 'error frame' : 'ok');
    }
    assert.deepEqual(outcomes, Array<string>(8).fill('ok'));
    // The scenario happened: most requests found their reused connection dropped (not all: on a
    // loaded machine a request may open a fresh connection of its own, or take the health check's).
    assert.ok(rig.proxy.dropped >= 4, `the proxy dropped only ${rig.proxy.dropped} idle connections`);
    assert.equal(rig.gateway.logs.filter((line) => line.msg === 'upstream down').length, 0, 'the upstream was marked down');
    const model = (await (await fetch(`${rig.gateway.url}/v1/models/chat`)).json()) as {
      metadata: { details: { upstreams: Array<{ status: string; failures: number }> } };
    };
    assert.deepEqual(model.metadata.details.upstreams, [{ status: 'up', in_flight: 0, failures: 0 }]);
  });
});
