// When a presented key is checked, end to end on a listening gateway: wherever keys are configured,
// a key that matches none is refused (whatever require_auth says), require_auth defaults to true
// once a key is configured, and with no key configured at all any key is taken as anonymous
// (SDKs insist on some key: OPENAI_API_KEY=sk-anything).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import OpenAI from 'openai';
import { pino } from 'pino';
import { loadConfigFile, parseConfig } from '../../src/config/load-config.js';
import { startGateway } from '../../src/server/gateway.js';
import { startTestGateway } from '../helpers/test-gateway.js';

const RIGHT_KEY = 'sk-right-key-0000';
const TEAM_KEY = 'sk-team-key-1111';

async function statusOf(url: string, key?: string): Promise<number> {
  const response = await fetch(`${url}/v1/models`, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  await response.arrayBuffer();
  return response.status;
}

describe('presented keys', () => {
  for (const [name, keys] of [
    ['api_key', `api_key = "${RIGHT_KEY}"\n`],
    ['[[api.keys]]', `[[api.keys]]\nname = "team"\nkey = "${RIGHT_KEY}"\n`],
  ] as const) {
    test(`require_auth = false with ${name}: no key is anonymous, a wrong key is 401, the right key passes`, async () => {
      const gateway = await startTestGateway(`[api]\nrequire_auth = false\n${keys}`, { apiKey: 'sk-wrong' });
      try {
        assert.equal(await statusOf(gateway.url), 200);
        assert.equal(await statusOf(gateway.url, RIGHT_KEY), 200);
        assert.equal(await statusOf(gateway.url, 'sk-wrong'), 401);
        await assert.rejects(gateway.client.models.list(), (error: unknown) => error instanceof OpenAI.AuthenticationError && error.code === 'invalid_api_key');
        const viaHeader = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': 'sk-wrong' } });
        assert.equal(viaHeader.status, 401);
      } finally {
        await gateway.close();
      }
    });
  }

  test('with a key configured and require_auth unset, every request needs a key', async () => {
    const gateway = await startTestGateway(`[api]\napi_key = "${RIGHT_KEY}"\n[[api.keys]]\nname = "team"\nkey = "${TEAM_KEY}"\n`);
    try {
      assert.equal(await statusOf(gateway.url), 401);
      assert.equal(await statusOf(gateway.url, 'sk-wrong'), 401);
      assert.equal(await statusOf(gateway.url, RIGHT_KEY), 200);
      assert.equal(await statusOf(gateway.url, TEAM_KEY), 200);
      assert.equal((await fetch(`${gateway.url}/health`)).status, 200, '/health stays public');
    } finally {
      await gateway.close();
    }
  });

  test('a key configured is enough to listen beyond loopback; an explicit require_auth = false is not', async () => {
    const logger = pino({ level: 'silent' });
    const keyed = await startGateway({ loaded: parseConfig(`[api]\napi_key = "${RIGHT_KEY}"\n`, 'config.toml'), logger, address: '0.0.0.0:0' });
    await keyed.close();
    const open = parseConfig(`[api]\nrequire_auth = false\napi_key = "${RIGHT_KEY}"\n`, 'config.toml');
    await assert.rejects(startGateway({ loaded: open, logger, address: '0.0.0.0:0' }), /refusing to listen on 0\.0\.0\.0 without authentication/);
  });

  test('a reload that would leave a public address without authentication is refused; the running keys stay', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'switchyard-exposure-'));
    const file = path.join(folder, 'config.toml');
    await writeFile(file, `[api]\napi_key = "${RIGHT_KEY}"\n`);
    const gateway = await startGateway({ loaded: await loadConfigFile(file), logger: pino({ level: 'silent' }), address: '0.0.0.0:0' });
    try {
      const url = `http://127.0.0.1:${gateway.port}`;
      // Without the key, require_auth's default (true once a key is configured) would turn off.
      await writeFile(file, '[api]\n');
      await assert.rejects(gateway.reload(), /api\.require_auth: refusing to listen on 0\.0\.0\.0 without authentication/);
      assert.equal(await statusOf(url), 401);
      assert.equal(await statusOf(url, RIGHT_KEY), 200);
    } finally {
      await gateway.close();
      await rm(folder, { recursive: true, force: true });
    }
  });

  test('with no key configured, any presented key is anonymous (OPENAI_API_KEY=sk-anything)', async () => {
    for (const toml of ['[api]\n', '[api]\nrequire_auth = false\n']) {
      const gateway = await startTestGateway(toml, { apiKey: 'sk-anything' });
      try {
        assert.deepEqual((await gateway.client.models.list()).data, []);
        assert.equal(await statusOf(gateway.url), 200);
        assert.equal(await statusOf(gateway.url, 'sk-whatever'), 200);
      } finally {
        await gateway.close();
      }
    }
  });

  test('require_auth = false: wrong keys count toward the failed-key throttle; requests without a key still pass', async () => {
    const gateway = await startTestGateway(`[api]\nrequire_auth = false\napi_key = "${RIGHT_KEY}"\nmax_auth_failures_per_minute = 3\n`);
    try {
      const statuses: number[] = [];
      for (let guess = 0; guess < 5; guess++) statuses.push(await statusOf(gateway.url, `sk-guess-${guess}`));
      assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
      assert.equal(await statusOf(gateway.url, RIGHT_KEY), 429, 'a right key new to a throttled address looks like a wrong one');
      assert.equal(await statusOf(gateway.url), 200, 'a request without a key guesses nothing');
    } finally {
      await gateway.close();
    }
  });
});

describe('[metrics] require_auth without [api] require_auth', () => {
  const USER_KEY = 'sk-user-key-2222';
  const config = `[api]\nrequire_auth = false\napi_key = "${RIGHT_KEY}"\n[[api.keys]]\nname = "user"\nkey = "${USER_KEY}"\n[metrics]\nrequire_auth = true\n`;

  test('/metrics needs a valid key, of any role (what each key sees is as under [api] require_auth)', async () => {
    const gateway = await startTestGateway(config);
    try {
      const scrape = (key?: string) => fetch(`${gateway.url}/metrics`, { headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
      const anonymous = await scrape();
      assert.equal(anonymous.status, 401);
      assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
      assert.equal((await scrape('sk-wrong')).status, 401);
      assert.equal(await statusOf(gateway.url), 200, 'the API itself stays open to anonymous requests');
      const asUser = await scrape(USER_KEY);
      assert.equal(asUser.status, 200);
      assert.match(await asUser.text(), /switchyard_requests_total/);
      assert.equal((await scrape(RIGHT_KEY)).status, 200);
    } finally {
      await gateway.close();
    }
  });

  test('[metrics] require_auth with no key configured is a config error', () => {
    assert.throws(() => parseConfig('[metrics]\nrequire_auth = true\n', 'config.toml'), /metrics\.require_auth: require_auth is true but no key is configured/);
  });
});
