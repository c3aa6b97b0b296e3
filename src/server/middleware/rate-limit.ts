// Applies the per-key (or per-address) limits of src/limits/ to a request, after auth so that it
// knows the key, and opens the token budget the routes reserve from.
import type { Middleware } from 'koa';
import type { KeyRing } from '../../http/key-ring.js';
import type { LimiterStore } from '../../limits/limiter-store.js';
import { ConcurrentRequests, countRequest, limitSubjectOf } from '../../limits/rate-limit.js';
import { TokenBudget } from '../../limits/token-budget.js';
import type { Logger } from '../../logger.js';

export interface RateLimitSettings {
  store: LimiterStore;
  keyRing: KeyRing;
  maxReservedCompletion: number;
}

export function rateLimit(settings: () => RateLimitSettings, logger: Logger): Middleware {
  const concurrent = new ConcurrentRequests();
  return async function rateLimit(ctx, next) {
    const { store, keyRing, maxReservedCompletion } = settings();
    const { principal } = ctx.state;
    const limits = principal?.limits ?? keyRing.anonymousLimits;
    const subject = limitSubjectOf(principal?.name, ctx.ip);
    const setHeader = (name: string, value: string) => ctx.set(name, value);

    const release = concurrent.hold(subject, limits.maxConcurrentRequests);
    // A stream outlives next(): the place is held until the response is over.
    ctx.res.once('close', release);
    ctx.res.once('finish', release);
    await countRequest(store, subject, limits.maxRequestsPerMinute, setHeader);

    const tokens = limits.maxTokensPerMinute > 0 ? store.limiter('tokens', limits.maxTokensPerMinute) : undefined;
    const budget = new TokenBudget(setHeader, tokens, subject, limits.maxTokensPerMinute, maxReservedCompletion, logger);
    ctx.state.tokenBudget = budget;
    try {
      await next();
    } finally {
      await budget.settle(ctx.state.usage?.total_tokens ?? 0);
    }
  };
}
