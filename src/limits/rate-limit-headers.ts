// OpenAI's rate-limit headers. Reset durations are written as OpenAI writes them ("20ms", "6s",
// "1m30s") so clients that parse them keep working. Limits report them through a callback, so
// that they know nothing of the HTTP framework that sends them.
import type { LimitKind } from './limiter-store.js';

/** Sets one response header (the server layer passes its context's). */
export type SetHeader = (name: string, value: string) => void;

export function formatReset(milliseconds: number): string {
  const ms = Math.max(0, Math.ceil(milliseconds));
  if (ms < 1000) return `${ms}ms`;
  const seconds = Math.ceil(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m${seconds % 60}s` : `${seconds}s`;
}

export function setRateLimitHeaders(setHeader: SetHeader, kind: LimitKind, limit: number, remaining: number, resetMs: number): void {
  setHeader(`x-ratelimit-limit-${kind}`, String(limit));
  setHeader(`x-ratelimit-remaining-${kind}`, String(Math.max(0, remaining)));
  setHeader(`x-ratelimit-reset-${kind}`, formatReset(resetMs));
}
