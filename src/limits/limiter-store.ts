// Where rate-limit counters live: in this process, or in Redis so that every replica shares
// them. With Redis, an in-memory insurance limiter keeps limiting per replica whenever Redis is
// unreachable, and Redis takes over again once it answers.
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { connectRedis } from '../redis-connection.js';

export type LimitKind = 'requests' | 'tokens' | 'failed-keys';

export interface StoreStatus {
  store: 'memory' | 'redis';
  healthy: boolean;
  detail?: string;
}

export interface LimiterStore {
  /** The limiter for `points` per minute of one kind; subjects are told apart by key. */
  limiter(kind: LimitKind, pointsPerMinute: number): RateLimiterAbstract;
  status(): StoreStatus;
  dispose(): Promise<void>;
}

const WINDOW_SECONDS = 60;

export function createMemoryStore(): LimiterStore {
  const limiters = new Map<string, RateLimiterAbstract>();
  return {
    limiter(kind, points) {
      const name = `${kind}:${points}`;
      let limiter = limiters.get(name);
      if (!limiter) limiters.set(name, (limiter = new RateLimiterMemory({ points, duration: WINDOW_SECONDS, keyPrefix: name })));
      return limiter;
    },
    status: () => ({ store: 'memory', healthy: true }),
    dispose: async () => undefined,
  };
}

export function createRedisStore(config: RateLimitConfig, logger: Logger): LimiterStore {
  // rate-limiter-flexible needs commands to fail at once while Redis is away, not queue up.
  const connection = connectRedis(config.redis_url!, {
    logger,
    name: 'rate-limit store',
    whileAway: 'limiting per replica until it returns',
    detailWhileAway: '; limits are per replica until it returns',
  });
  const client = connection.client;

  const limiters = new Map<string, RateLimiterAbstract>();
  return {
    limiter(kind, points) {
      const name = `${kind}:${points}`;
      let limiter = limiters.get(name);
      if (!limiter) {
        limiter = new RateLimiterRedis({
          storeClient: client,
          points,
          duration: WINDOW_SECONDS,
          keyPrefix: `${config.key_prefix}:${name}`,
          rejectIfRedisNotReady: true,
          insuranceLimiter: new RateLimiterMemory({ points, duration: WINDOW_SECONDS, keyPrefix: `insurance:${name}` }),
        });
        limiters.set(name, limiter);
      }
      return limiter;
    },
    status: () => ({ store: 'redis', ...connection.status() }),
    dispose: async () => connection.close(),
  };
}

export function createLimiterStore(config: RateLimitConfig, logger: Logger): LimiterStore {
  return config.store === 'redis' ? createRedisStore(config, logger) : createMemoryStore();
}
