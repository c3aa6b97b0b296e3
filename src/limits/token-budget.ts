// Token limits that hold under concurrency: a run reserves its tokens atomically in the limiter
// before it starts (prompt plus max_tokens, capped), and the reservation is reconciled with the
// actual usage after it. Gateways that count only after the fact let concurrent requests overshoot.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { errors } from '../errors.js';
import type { Logger } from '../logger.js';
import { formatReset, setRateLimitHeaders, type SetHeader } from './rate-limit-headers.js';

export class TokenBudget {
  private reserved = 0;
  private settled = false;

  constructor(
    /** Where the x-ratelimit-*-tokens headers of a reservation go. */
    private readonly setHeader: SetHeader,
    private readonly limiter: RateLimiterAbstract | undefined,
    private readonly subject: string,
    private readonly tokensPerMinute: number,
    private readonly maxReservedCompletion: number,
    private readonly logger: Logger,
  ) {}

  /** Reserves the tokens a run may use; throws a 429 when the budget cannot hold them now. */
  async reserve(promptTokens: number, completionTokens: number): Promise<void> {
    const amount = promptTokens + Math.min(completionTokens, this.maxReservedCompletion);
    if (!this.limiter || amount <= 0) return;
    if (amount > this.tokensPerMinute) {
      throw errors.rateLimited(
        `This request needs ${amount} tokens (${promptTokens} prompt, ${Math.min(completionTokens, this.maxReservedCompletion)} completion), more than the limit of ${this.tokensPerMinute} tokens per minute; it can never succeed. Reduce the prompt or max_tokens.`,
        60_000,
        'tokens_exceed_limit',
        { 'x-should-retry': 'false' },
      );
    }
    try {
      const result = await this.limiter.consume(this.subject, amount);
      this.reserved = amount;
      setRateLimitHeaders(this.setHeader, 'tokens', this.tokensPerMinute, result.remainingPoints, result.msBeforeNext);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      // rate-limiter-flexible counts a refused consume; give it back, it was never used.
      await this.limiter.reward(this.subject, amount).catch(() => undefined);
      setRateLimitHeaders(this.setHeader, 'tokens', this.tokensPerMinute, 0, rejection.msBeforeNext);
      throw errors.rateLimited(
        `Rate limit reached for tokens per minute: limit ${this.tokensPerMinute}, this request needs ${amount}. Retry in ${formatReset(rejection.msBeforeNext)}.`,
        rejection.msBeforeNext,
        'rate_limit_exceeded',
      );
    }
  }

  /** Charges what was actually used: gives back the unused part of the reservation, or adds the excess. */
  async settle(actualTokens: number): Promise<void> {
    if (this.settled || !this.limiter) return;
    this.settled = true;
    if (this.reserved === 0 && actualTokens === 0) return;
    const difference = this.reserved - actualTokens;
    try {
      if (difference > 0) await this.limiter.reward(this.subject, difference);
      else if (difference < 0) await this.limiter.penalty(this.subject, -difference);
    } catch (error) {
      this.logger.warn({ err: error }, 'token usage could not be reconciled');
    }
  }
}
