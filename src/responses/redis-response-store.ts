// Stored responses in Redis, shared by every replica: one hash per response at
// `${prefix}:response:${id}` (the SQLite table's columns as its fields), with the retention as its
// TTL, so Redis deletes it itself. A key's TTL is set at its save and does not shrink when the
// retention is lowered: reads check created_at against the retention in force, so such a response
// is refused (and deleted) when read rather than evicted early. While Redis is unreachable, saves and reads fail at once with a
// ResponseStoreUnavailableError (a 503) instead of queueing behind the reconnection.
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { connectRedis } from '../redis-connection.js';
import {
  hasExpired,
  ResponseStoreUnavailableError,
  type ResponseStore,
  type ResponseStoreLimits,
  type ResponseStoreOptions,
  type StoredResponse,
} from './response-store.js';

export interface RedisResponseStoreSettings {
  redisUrl: string;
  keyPrefix: string;
}

/**
 * Deletes KEYS[1] only when its owner is ARGV[1] and it has not expired: made after ARGV[2] (Unix
 * seconds, by the caller's clock and retention). One script, so that the check and the delete are atomic.
 */
const DELETE_OWNED = `
local fields = redis.call('HMGET', KEYS[1], 'owner', 'created_at')
if fields[1] == ARGV[1] and tonumber(fields[2]) > tonumber(ARGV[2]) then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

type ClientWithScripts = Redis & { deleteOwnedResponse(key: string, owner: string, now: number): Promise<number> };

export function createRedisResponseStore(settings: RedisResponseStoreSettings, options: ResponseStoreOptions, logger: Logger): ResponseStore {
  const now = options.now ?? Date.now;
  let limits: ResponseStoreLimits = { retentionSeconds: options.retentionSeconds, maxStored: options.maxStored };
  const connection = connectRedis(settings.redisUrl, {
    logger,
    name: 'response store',
    whileAway: 'stored responses are unavailable until it returns',
    // A Redis that accepts the connection and never answers must not hold a request forever.
    clientOptions: { commandTimeout: 5_000 },
  });
  const client = connection.client as ClientWithScripts;
  client.defineCommand('deleteOwnedResponse', { numberOfKeys: 1, lua: DELETE_OWNED });

  const keyOf = (id: string) => `${settings.keyPrefix}:response:${id}`;
  const call = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new ResponseStoreUnavailableError('redis', error instanceof Error ? error.message : String(error));
    }
  };

  return {
    async save(stored: StoredResponse) {
      const retentionSeconds = limits.retentionSeconds;
      const key = keyOf(stored.id);
      await call(async () => {
        const results = await client
          .multi()
          .hset(key, {
            owner: stored.owner,
            created_at: String(stored.createdAt),
            response: JSON.stringify(stored.response),
            input_items: JSON.stringify(stored.inputItems),
            history: JSON.stringify(stored.history),
          })
          .expire(key, Math.max(1, Math.ceil(retentionSeconds)))
          .exec();
        // A transaction reports each command's error in its results rather than rejecting.
        const failed = results?.find(([error]) => error !== null);
        if (failed) throw failed[0];
      });
    },
    async load(id, owner) {
      const key = keyOf(id);
      const fields = await call(() => client.hgetall(key));
      // An absent key reads as {}. The TTL was the retention at the save: a lowered retention is
      // checked here, and the key deleted (best effort) rather than left to its longer TTL.
      if (fields.owner !== owner) return undefined;
      if (!(Number(fields.created_at) >= 0) || hasExpired(Number(fields.created_at), limits.retentionSeconds, now())) {
        client.del(key).catch(() => {});
        return undefined;
      }
      return {
        id,
        owner,
        createdAt: Number(fields.created_at),
        response: JSON.parse(fields.response) as StoredResponse['response'],
        inputItems: JSON.parse(fields.input_items) as StoredResponse['inputItems'],
        history: JSON.parse(fields.history) as StoredResponse['history'],
      };
    },
    async delete(id, owner) {
      return (await call(() => client.deleteOwnedResponse(keyOf(id), owner, now() / 1000 - limits.retentionSeconds))) > 0;
    },
    setLimits(next) {
      limits = { ...next };
    },
    status: () => ({ store: 'redis', ...connection.status() }),
    close: async () => connection.close(),
  };
}
