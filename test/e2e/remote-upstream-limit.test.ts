// max_concurrent_per_upstream holds per upstream, also when another upstream is down: the model's
// slots (upstreams × the limit) must not all land on the survivor. The survivor is a real gateway
// on loopback that refuses a second request at once (max_concurrent_requests = 1), so a request
// over the limit shows as a 429 there; the other upstream is a port nobody listens on.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freeLoopbackPort } from '../../src/backends/llama-server/loopback-port.js';
import { models } from '../helpers/paths.js';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.js';

describe('remote: max_concurrent_per_upstream with one upstream down', () => {
  let survivor: TestGateway;
  let gateway: TestGateway;
  before(async () => {
    survivor = await startTestGateway(`
[api]
max_concurrent_requests = 1

[api.models.chat]
path = "${models.storiesChatml}"
type = "chat"
context_length = 512
threads = 1
parallel = 2
`);
    const dead = `http://127.0.0.1:${await freeLoopbackPort()}/v1`;
    gateway = await startTestGateway(`
[plugins.remote]
health_check_interval = 0
backoff_initial = 60
backoff_max = 60

[api.models.chat]
backend = "remote"
type = "chat"
upstreams = ["${dead}", "${survivor.url}/v1"]
max_concurrent_per_upstream = 1
`);
  });
  after(async () => {
    await gateway?.close();
    await survivor?.close();
  });

  test('the survivor never gets more than one request at a time; every request succeeds', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const response = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: 48 }),
        });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    const upstreamStatuses = survivor.logs.filter((line) => line.msg === 'request' && line.path === '/v1/chat/completions').map((line) => line.status);
    assert.deepEqual(upstreamStatuses, Array<number>(6).fill(200), 'the survivor was sent a request beyond its limit');
    assert.deepEqual(statuses, Array<number>(6).fill(200));
  });
});
