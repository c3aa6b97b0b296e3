// OpenAI's rate-limit headers. Reset durations are written as OpenAI writes them ("20ms", "6s",
// "1m30s") so clients that parse them keep working.
import type { Context } from 'koa';
import type { LimitKind } from './limiter-store.js';

export function formatReset(milliseconds: number): string {
  const ms = Math.max(0, Math.ceil(milliseconds));
  if (ms < 1000) return `${ms}ms`;
  const seconds = Math.ceil(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m${seconds % 60}s` : `${seconds}s`;
}

export function setRateLimitHeaders(ctx: Context, kind: LimitKind, limit: number, remaining: number, resetMs: number): void {
  ctx.set(`x-ratelimit-limit-${kind}`, String(limit));
  ctx.set(`x-ratelimit-remaining-${kind}`, String(Math.max(0, remaining)));
  ctx.set(`x-ratelimit-reset-${kind}`, formatReset(resetMs));
}
