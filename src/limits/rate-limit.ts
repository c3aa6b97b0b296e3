// Per-key (or, without auth, per-client-address) limits on requests per minute and concurrent
// requests, and the token budget the routes reserve from. Runs after auth, so it knows the key.
import type { Middleware } from 'koa';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { errors } from '../errors.js';
import { clientNetworkOf } from './client-address.js';
import type { Logger } from '../logger.js';
import { principalOf, type KeyRing } from '../server/middleware/auth.js';
import type { LimiterStore } from './limiter-store.js';
import { formatReset, setRateLimitHeaders } from './rate-limit-headers.js';
import { TokenBudget } from './token-budget.js';

export interface RateLimitSettings {
  store: LimiterStore;
  keyRing: KeyRing;
  maxReservedCompletion: number;
}

export function rateLimit(settings: () => RateLimitSettings, logger: Logger, onReject?: (kind: string) => void): Middleware {
  const running = new Map<string, number>();
  return async function rateLimit(ctx, next) {
    const { store, keyRing, maxReservedCompletion } = settings();
    const principal = principalOf(ctx);
    const limits = principal?.limits ?? keyRing.anonymousLimits;
    // Without a key, an IPv6 client counts by its /64, as for failed keys: one host holds them all.
    const subject = principal ? `key:${principal.name}` : `addr:${clientNetworkOf(ctx.ip)}`;

    if (limits.maxConcurrentRequests > 0) {
      const count = running.get(subject) ?? 0;
      if (count >= limits.maxConcurrentRequests) {
        onReject?.('concurrency');
        throw errors.rateLimited(`Too many concurrent requests: the limit is ${limits.maxConcurrentRequests} at once. Retry when one finishes.`, 1_000, 'concurrency_limit_exceeded');
      }
      running.set(subject, count + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const left = (running.get(subject) ?? 1) - 1;
        if (left <= 0) running.delete(subject);
        else running.set(subject, left);
      };
      // A stream outlives next(): the slot is held until the response is over.
      ctx.res.once('close', release);
      ctx.res.once('finish', release);
    }

    if (limits.maxRequestsPerMinute > 0) {
      const limiter = store.limiter('requests', limits.maxRequestsPerMinute);
      try {
        const result = await limiter.consume(subject, 1);
        setRateLimitHeaders(ctx, 'requests', limits.maxRequestsPerMinute, result.remainingPoints, result.msBeforeNext);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        onReject?.('requests');
        setRateLimitHeaders(ctx, 'requests', limits.maxRequestsPerMinute, 0, rejection.msBeforeNext);
        throw errors.rateLimited(
          `Rate limit reached for requests per minute: limit ${limits.maxRequestsPerMinute}. Retry in ${formatReset(rejection.msBeforeNext)}.`,
          rejection.msBeforeNext,
        );
      }
    }

    const budget = new TokenBudget(
      ctx,
      limits.maxTokensPerMinute > 0 ? store.limiter('tokens', limits.maxTokensPerMinute) : undefined,
      subject,
      limits.maxTokensPerMinute,
      maxReservedCompletion,
      logger,
    );
    ctx.state.tokenBudget = budget;
    try {
      await next();
    } finally {
      const usage = ctx.state.usage as { total_tokens: number } | undefined;
      await budget.settle(usage?.total_tokens ?? 0);
    }
  };
}
