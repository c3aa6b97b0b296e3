// Limits shared through a real redis-server by two gateway processes, and what happens when
// Redis goes away and comes back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';

async function statusOf(url: string): Promise<number> {
  return (await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer sk-shared-key-1' } })).status;
}

interface Health {
  status: string;
  rate_limit?: { store: string; healthy: boolean };
  responses?: { store: string; healthy: boolean };
}

async function healthOf(url: string): Promise<Health> {
  return (await (await fetch(`${url}/health`)).json()) as Health;
}

describe('limits shared through Redis', () => {
  let redis: RedisServer;
  let replicas: GatewayProcess[];
  before(async () => {
    redis = await startRedisServer();
    const toml = `
[api]
require_auth = true

[[api.keys]]
name = "shared"
key = "sk-shared-key-1"
max_requests_per_minute = 10

[api.rate_limit]
store = "redis"
redis_url = "${redis.url}"
key_prefix = "test-${process.pid}"
`;
    replicas = await Promise.all([startGatewayProcess(toml), startGatewayProcess(toml)]);
    await Promise.all(
      replicas.map((replica) => waitFor(async () => (await healthOf(replica.url)).rate_limit?.healthy === true, 10_000, 'the rate-limit store to connect')),
    );
  });
  after(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await redis.stop();
  });

  test('a key allowed 10 requests per minute gets exactly 10 across both replicas', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 20; index++) statuses.push(await statusOf(replicas[index % 2].url));
    assert.equal(statuses.filter((status) => status === 200).length, 10);
    assert.equal(statuses.filter((status) => status === 429).length, 10);
  });

  test('with Redis stopped, the gateway keeps answering and limiting per replica; /health says degraded', async () => {
    await redis.stop();
    const [replica] = replicas;
    // The stored responses follow the limits into Redis, and lose it with them.
    const unreachable = (health: Health) => health.status === 'degraded' && health.rate_limit?.healthy === false && health.responses?.healthy === false;
    await waitFor(async () => unreachable(await healthOf(replica.url)), 10_000, '/health to report degraded');
    const health = await healthOf(replica.url);
    assert.equal(health.rate_limit?.store, 'redis');
    assert.equal(health.responses?.store, 'redis');
    const statuses: number[] = [];
    for (let index = 0; index < 15; index++) statuses.push(await statusOf(replica.url));
    assert.ok(
      statuses.every((status) => status === 200 || status === 429),
      `statuses ${statuses}`,
    );
    // The insurance limiter of this replica allows 10 in its own window, then refuses.
    assert.equal(statuses.filter((status) => status === 200).length, 10);
    assert.ok(replica.logs.some((record) => /rate-limit store unreachable/.test(String(record.msg))));
  });

  test('when Redis returns, it is used again', async () => {
    await redis.start();
    await Promise.all(replicas.map((replica) => waitFor(async () => (await healthOf(replica.url)).status === 'ok', 15_000, 'Redis to be used again')));
    assert.deepEqual((await healthOf(replicas[0].url)).responses, { store: 'redis', healthy: true });
  });
});
