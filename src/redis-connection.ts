// One Redis connection as the gateway's stores use it (the limiter store, the response store):
// commands fail at once while Redis is away instead of queueing behind the reconnection, which
// goes on in the background; whether it is up now is told by events, logged once per change.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export interface RedisConnection {
  client: Redis;
  /** Whether it is up now; if not, why ('connecting', or the reason it is unreachable). */
  status(): { healthy: boolean; detail?: string };
  close(): void;
}

export interface RedisConnectionOptions {
  logger: Logger;
  /** What the log calls it: "rate-limit store". */
  name: string;
  /** What the log says happens while it is away: "limiting per replica until it returns". */
  whileAway: string;
  /** Added to the reason in detail() while it is away. */
  detailWhileAway?: string;
  /** ioredis options beyond the shared ones (e.g. a commandTimeout). */
  clientOptions?: RedisOptions;
}

export function connectRedis(url: string, options: RedisConnectionOptions): RedisConnection {
  const { logger, name } = options;
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 250, 2_000),
    ...options.clientOptions,
  });
  let healthy = false;
  let detail = 'connecting';
  client.on('ready', () => {
    if (!healthy) logger.info({ store: 'redis' }, `${name} connected`);
    healthy = true;
  });
  const lost = (reason: string) => {
    if (healthy) logger.warn({ store: 'redis', reason }, `${name} unreachable: ${options.whileAway}`);
    healthy = false;
    detail = `unreachable (${reason})${options.detailWhileAway ?? ''}`;
  };
  client.on('error', (error: Error) => lost(error.message));
  client.on('close', () => lost('connection closed'));
  return {
    client,
    status: () => ({ healthy, ...(healthy ? {} : { detail }) }),
    close() {
      client.removeAllListeners();
      client.disconnect();
    },
  };
}
