// Per-key (or, without auth, per-client-address) limits on requests per minute and concurrent
// requests. The HTTP layer applies them (src/server/middleware/rate-limit.ts) after auth, so it
// knows the key; what each limit decides lives here, free of the HTTP framework.
import { RateLimiterRes } from 'rate-limiter-flexible';
import { errors } from '../errors.js';
import { clientNetworkOf } from './client-address.js';
import type { LimiterStore } from './limiter-store.js';
import { formatReset, setRateLimitHeaders, type SetHeader } from './rate-limit-headers.js';

/** The limits of one key, or of requests without a key; 0 = no limit. */
export interface Limits {
  maxRequestsPerMinute: number;
  maxTokensPerMinute: number;
  maxConcurrentRequests: number;
}

/** Who a limit counts: the key, or without one the client's address (an IPv6 client by its /64, as for failed keys: one host holds them all). */
export function limitSubjectOf(keyName: string | undefined, clientAddress: string): string {
  return keyName !== undefined ? `key:${keyName}` : `addr:${clientNetworkOf(clientAddress)}`;
}

/** Requests running per subject, in this process. */
export class ConcurrentRequests {
  readonly #running = new Map<string, number>();

  /** Takes one of `subject`'s `max` places (0: no limit) or throws a 429; returns what gives it back (once, however often called). */
  hold(subject: string, max: number): () => void {
    if (max <= 0) return () => undefined;
    const count = this.#running.get(subject) ?? 0;
    if (count >= max)
      throw errors.rateLimited(`Too many concurrent requests: the limit is ${max} at once. Retry when one finishes.`, 1_000, 'concurrency_limit_exceeded');
    this.#running.set(subject, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#running.get(subject) ?? 1) - 1;
      if (left <= 0) this.#running.delete(subject);
      else this.#running.set(subject, left);
    };
  }
}

/** Counts one request of `subject` against its requests per minute (0: no limit); throws a 429 past it. */
export async function countRequest(store: LimiterStore, subject: string, perMinute: number, setHeader: SetHeader): Promise<void> {
  if (perMinute <= 0) return;
  const limiter = store.limiter('requests', perMinute);
  try {
    const result = await limiter.consume(subject, 1);
    setRateLimitHeaders(setHeader, 'requests', perMinute, result.remainingPoints, result.msBeforeNext);
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    setRateLimitHeaders(setHeader, 'requests', perMinute, 0, rejection.msBeforeNext);
    throw errors.rateLimited(
      `Rate limit reached for requests per minute: limit ${perMinute}. Retry in ${formatReset(rejection.msBeforeNext)}.`,
      rejection.msBeforeNext,
    );
  }
}
