// One contract for every ResponseStore (SQLite file, real redis-server, memory): save/load/delete,
// owner isolation, expiry by a clock the test moves, JSON round trips; then what only some have: a
// SQLite file that keeps its rows across a reopen and purges (in batches), Redis's TTL and its
// outage, a close that waits for the operations under way, and a gateway that refuses to start on a
// file it cannot use.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { createRedisResponseStore } from '../../src/responses/redis-response-store.js';
import { createMemoryResponseStore, ResponseStoreUnavailableError, type ResponseStore, type StoredResponse } from '../../src/responses/response-store.js';
import { createSqliteResponseStore, PURGE_BATCH_ROWS } from '../../src/responses/sqlite-response-store.js';
import { closeWhenIdle } from '../../src/responses/close-when-idle.js';
import { startGateway } from '../../src/server/gateway.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startTestGateway } from '../helpers/test-gateway.js';

const HOUR_MS = 3_600_000;
const silent = pino({ level: 'silent' });

/** A clock the test moves: expiry is checked without waiting out a retention. */
function testClock() {
  let now = Date.parse('2026-01-01T00:00:00Z');
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

let sequence = 0;
function storedResponse(owner: string, overrides: Partial<StoredResponse> = {}): StoredResponse {
  sequence += 1;
  return {
    id: `resp_${process.pid}_${sequence}`,
    owner,
    createdAt: 1_767_225_600,
    response: {
      id: `resp_${sequence}`,
      object: 'response',
      status: 'completed',
      output: [{ type: 'message', content: [{ type: 'output_text', text: 'hi' }] }],
    },
    inputItems: [{ id: `msg_${sequence}`, type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello' }] }],
    history: [],
    ...overrides,
  };
}

interface StoreUnderTest {
  name: string;
  open(clock: ReturnType<typeof testClock>, options?: { maxStored?: number }): Promise<ResponseStore>;
}

const temporaryFolder = () => mkdtemp(path.join(os.tmpdir(), 'switchyard-responses-'));

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
});

const stores: StoreUnderTest[] = [
  {
    name: 'sqlite',
    open: async (clock, options) =>
      createSqliteResponseStore(path.join(await temporaryFolder(), 'responses.sqlite'), {
        retentionSeconds: 3600,
        maxStored: options?.maxStored ?? 1000,
        now: clock.now,
      }),
  },
  {
    name: 'redis',
    open: async (clock) => {
      const store = createRedisResponseStore(
        { redisUrl: redis.url, keyPrefix: `test-${process.pid}-${++sequence}` },
        { retentionSeconds: 3600, maxStored: 1000, now: clock.now },
        silent,
      );
      // Commands fail at once until the connection is up (no offline queue).
      for (let attempt = 0; attempt < 100 && !store.status().healthy; attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
      return store;
    },
  },
  {
    name: 'memory',
    open: async (clock, options) => createMemoryResponseStore({ retentionSeconds: 3600, maxStored: options?.maxStored ?? 1000, now: clock.now }),
  },
];

for (const { name, open } of stores) {
  describe(`the ${name} response store`, () => {
    test('saves, loads and deletes a response of its owner; a second delete finds nothing', async () => {
      const store = await open(testClock());
      try {
        const stored = storedResponse('alice');
        await store.save(stored);
        assert.deepEqual(await store.load(stored.id, 'alice'), stored);
        assert.equal(await store.delete(stored.id, 'alice'), true);
        assert.equal(await store.load(stored.id, 'alice'), undefined);
        assert.equal(await store.delete(stored.id, 'alice'), false);
        assert.equal(await store.load('resp_never_saved', 'alice'), undefined);
        assert.deepEqual(store.status(), { store: name, healthy: true });
      } finally {
        await store.close();
      }
    });

    test("another owner's id loads as undefined and cannot be deleted; the anonymous owner '' is an owner too", async () => {
      const store = await open(testClock());
      try {
        const alices = storedResponse('alice');
        const anonymous = storedResponse('');
        await store.save(alices);
        await store.save(anonymous);
        assert.equal(await store.load(alices.id, 'bob'), undefined);
        assert.equal(await store.load(alices.id, ''), undefined);
        assert.equal(await store.delete(alices.id, 'bob'), false);
        assert.equal(await store.load(anonymous.id, 'alice'), undefined);
        assert.deepEqual(await store.load(alices.id, 'alice'), alices);
        assert.deepEqual(await store.load(anonymous.id, ''), anonymous);
      } finally {
        await store.close();
      }
    });

    test('a response expires after the retention: never loaded, never deleted', async () => {
      const clock = testClock();
      const store = await open(clock);
      try {
        const stored = storedResponse('alice');
        await store.save(stored);
        clock.advance(HOUR_MS - 1_000);
        assert.deepEqual(await store.load(stored.id, 'alice'), stored);
        clock.advance(1_000);
        assert.equal(await store.load(stored.id, 'alice'), undefined);
        assert.equal(await store.delete(stored.id, 'alice'), false);
      } finally {
        await store.close();
      }
    });

    test('a lowered retention expires the responses made before it at once', async () => {
      const clock = testClock();
      const store = await open(clock);
      try {
        const stored = storedResponse('alice');
        await store.save(stored);
        clock.advance(HOUR_MS / 2);
        assert.deepEqual(await store.load(stored.id, 'alice'), stored);
        store.setLimits({ retentionSeconds: 1800, maxStored: 1000 });
        assert.equal(await store.load(stored.id, 'alice'), undefined);
        assert.equal(await store.delete(stored.id, 'alice'), false);
      } finally {
        await store.close();
      }
    });

    test('nested objects and unicode round-trip exactly', async () => {
      const store = await open(testClock());
      try {
        const stored = storedResponse('ключ-ü', {
          response: { text: 'héllo 🌍 世界 \u0000 "quoted" \\ \n', nested: { deep: [1, 2.5, 0, null, true, { a: [[], {}] }] }, metadata: { ключ: 'значение' } },
          inputItems: [{ type: 'function_call_output', call_id: 'call_1', output: JSON.stringify({ emoji: '👍🏽' }) }],
          history: [
            { role: 'assistant', content: [{ type: 'output_text', text: 'earlier' }] },
            { type: 'reasoning', summary: [] },
          ],
        });
        await store.save(stored);
        assert.deepEqual(await store.load(stored.id, 'ключ-ü'), JSON.parse(JSON.stringify(stored)));
      } finally {
        await store.close();
      }
    });
  });
}

describe('the sqlite response store file', () => {
  test('keeps its responses across a reopen (a restart) and purges the expired and the oldest past max_stored at open', async () => {
    const file = path.join(await temporaryFolder(), 'nested', 'folder', 'responses.sqlite');
    const clock = testClock();
    const options = { retentionSeconds: 3600, maxStored: 3, now: clock.now };
    const first = createSqliteResponseStore(file, options);
    const old = storedResponse('alice');
    await first.save(old);
    clock.advance(HOUR_MS / 2);
    const kept = [storedResponse('alice'), storedResponse('bob'), storedResponse('alice')];
    for (const stored of kept) await first.save(stored);
    await first.close();

    const second = createSqliteResponseStore(file, options);
    try {
      for (const stored of kept) assert.deepEqual(await second.load(stored.id, stored.owner), stored);
      assert.equal(await second.load(old.id, 'alice'), undefined);
    } finally {
      await second.close();
    }
    const rows = () => {
      const database = new Database(file, { readonly: true });
      try {
        return (database.prepare('SELECT id FROM responses ORDER BY rowid').all() as Array<{ id: string }>).map((row) => row.id);
      } finally {
        database.close();
      }
    };
    // The oldest of four went at the reopen (max_stored = 3)...
    assert.deepEqual(
      rows(),
      kept.map((stored) => stored.id),
    );
    // ...and the rest once their retention is over.
    clock.advance(HOUR_MS);
    await createSqliteResponseStore(file, options).close();
    assert.deepEqual(rows(), []);
  });

  test('purges a backlog of more than one batch: past max_stored, then expired', async () => {
    const file = path.join(await temporaryFolder(), 'responses.sqlite');
    const clock = testClock();
    const store = createSqliteResponseStore(file, { retentionSeconds: 3600, maxStored: 100_000, now: clock.now });
    const count = PURGE_BATCH_ROWS * 2 + 7;
    for (let index = 0; index < count; index++) await store.save(storedResponse('alice', { history: [] }));
    await store.close();
    const rowCount = () => {
      const database = new Database(file, { readonly: true });
      try {
        return (database.prepare('SELECT count(*) AS n FROM responses').get() as { n: number }).n;
      } finally {
        database.close();
      }
    };
    assert.equal(rowCount(), count);
    await createSqliteResponseStore(file, { retentionSeconds: 3600, maxStored: 3, now: clock.now }).close();
    assert.equal(rowCount(), 3);
    clock.advance(HOUR_MS);
    await createSqliteResponseStore(file, { retentionSeconds: 3600, maxStored: 3, now: clock.now }).close();
    assert.equal(rowCount(), 0);
  });

  test('a path that cannot be used is refused with the file and the reason', async () => {
    const folder = await temporaryFolder();
    const notADatabase = path.join(folder, 'text.sqlite');
    await writeFile(notADatabase, 'this is a text file, not a SQLite database, and it is long enough to have a header\n'.repeat(4));
    assert.throws(() => createSqliteResponseStore(notADatabase, { retentionSeconds: 60, maxStored: 10 }), {
      message: `cannot open the response store file ${notADatabase}: not a SQLite database`,
    });
    // A folder under a regular file cannot be created (whatever the user's permissions).
    const underAFile = path.join(notADatabase, 'responses.sqlite');
    assert.throws(
      () => createSqliteResponseStore(underAFile, { retentionSeconds: 60, maxStored: 10 }),
      (error: Error) => {
        assert.match(error.message, new RegExp(`^cannot open the response store file ${underAFile}: its folder cannot be created \\(E`));
        return true;
      },
    );
  });
});

describe('the redis response store', () => {
  test('gives each response a TTL of the retention under the key prefix', async () => {
    const keyPrefix = `ttl-${process.pid}`;
    const store = createRedisResponseStore({ redisUrl: redis.url, keyPrefix }, { retentionSeconds: 7200, maxStored: 1 }, silent);
    const client = new Redis(redis.url);
    try {
      for (let attempt = 0; attempt < 100 && !store.status().healthy; attempt++) await new Promise((resolve) => setTimeout(resolve, 20));
      const stored = storedResponse('alice');
      await store.save(stored);
      const ttl = await client.ttl(`${keyPrefix}:response:${stored.id}`);
      assert.ok(ttl > 7100 && ttl <= 7200, `TTL ${ttl}`);
    } finally {
      client.disconnect();
      await store.close();
    }
  });

  test('while Redis is unreachable, save and load fail at once as unavailable, and /health can tell', async () => {
    const store = createRedisResponseStore({ redisUrl: 'redis://127.0.0.1:1', keyPrefix: 'nowhere' }, { retentionSeconds: 60, maxStored: 1 }, silent);
    try {
      const started = Date.now();
      await assert.rejects(store.save(storedResponse('alice')), ResponseStoreUnavailableError);
      await assert.rejects(store.load('resp_1', 'alice'), ResponseStoreUnavailableError);
      await assert.rejects(store.delete('resp_1', 'alice'), ResponseStoreUnavailableError);
      assert.ok(Date.now() - started < 3_000, 'failed without waiting for a reconnection');
      assert.equal(store.status().healthy, false);
    } finally {
      await store.close();
    }
  });
});

describe('a store opened for the gateway', () => {
  test('closes only after the operations under way end', async () => {
    let finishSave!: () => void;
    let closed = false;
    const inner: ResponseStore = {
      save: () => new Promise<void>((resolve) => (finishSave = resolve)),
      load: async () => undefined,
      delete: async () => false,
      status: () => ({ store: 'memory', healthy: true }),
      setLimits: () => {},
      close: async () => void (closed = true),
    };
    const store = closeWhenIdle(inner);
    const saving = store.save(storedResponse('alice'));
    const closing = store.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(closed, false, 'closed under a save');
    finishSave();
    await saving;
    await closing;
    assert.equal(closed, true);
  });
});

describe('a gateway whose response store file cannot be used', () => {
  test('does not start, and says which file and which config key', async () => {
    const folder = await temporaryFolder();
    const file = path.join(folder, 'config.toml');
    await writeFile(path.join(folder, 'not-a-folder'), 'a file');
    const toml = '[api.responses]\npath = "not-a-folder/responses.sqlite"\n';
    await writeFile(file, toml);
    const loaded = parseConfig(toml, file);
    await assert.rejects(startGateway({ loaded, logger: silent, address: '127.0.0.1:0' }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        new RegExp(
          `^${file}: api\\.responses\\.path: cannot open the response store file ${folder}/not-a-folder/responses\\.sqlite: its folder cannot be created`,
        ),
      );
      return true;
    });
    // The command line exits 2 with the config error on stderr, as for any invalid config.
    const run = spawnSync(process.execPath, ['dist/src/cli.cjs', 'serve', '--config', file, '--address', '127.0.0.1:0'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^config error:\n.*api\.responses\.path: cannot open the response store file .*not-a-folder\/responses\.sqlite/);
  });
});

describe('a reload', () => {
  test('keeps the response store unless [api.responses] changed; a changed file that cannot be used is refused and the store stays', async () => {
    const gateway = await startTestGateway('[api]\nmax_requests_per_minute = 0\n');
    try {
      const state = gateway.gateway.state;
      const first = state.responseStore();
      // Made now: expiry counts from created_at by the real clock here.
      const stored = storedResponse('', { createdAt: Math.floor(Date.now() / 1000) });
      await first.save(stored);
      await writeFile(gateway.configFile, '[api]\nmax_requests_per_minute = 100\n');
      await gateway.gateway.reload();
      assert.equal(state.responseStore(), first);
      // Limits change in place.
      await writeFile(gateway.configFile, '[api.responses]\nretention_hours = 2\nmax_stored = 10\n');
      await gateway.gateway.reload();
      assert.equal(state.responseStore(), first);

      await writeFile(gateway.configFile, '[api.responses]\npath = "config.toml/responses.sqlite"\n');
      await assert.rejects(
        gateway.gateway.reload(),
        (error: unknown) => error instanceof ConfigError && /api\.responses\.path: cannot open/.test(error.message),
      );
      assert.equal(state.responseStore(), first);
      assert.deepEqual(await first.load(stored.id, ''), stored);

      await writeFile(gateway.configFile, '[api.responses]\npath = "elsewhere.sqlite"\n');
      await gateway.gateway.reload();
      const second = state.responseStore();
      assert.notEqual(second, first);
      assert.equal(await second.load(stored.id, ''), undefined);
      // The replaced store was closed.
      await assert.rejects(first.load(stored.id, ''), ResponseStoreUnavailableError);
      assert.match(await readFile(path.join(path.dirname(gateway.configFile), 'elsewhere.sqlite'), 'latin1'), /^SQLite format 3/);
    } finally {
      await gateway.close();
    }
  });
});
