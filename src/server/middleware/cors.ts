// CORS for browser clients, answered before auth so preflights never need a key.
import cors from '@koa/cors';
import type { Middleware } from 'koa';

/** Headers the official OpenAI and Anthropic JavaScript SDKs send from a browser, plus ours. */
export const ALLOWED_REQUEST_HEADERS = [
  'authorization',
  'content-type',
  'x-api-key',
  'x-request-id',
  'openai-organization',
  'openai-project',
  'openai-beta',
  'idempotency-key',
  'anthropic-version',
  'anthropic-beta',
  'anthropic-dangerous-direct-browser-access',
  'x-stainless-arch',
  'x-stainless-async',
  'x-stainless-custom-poll-interval',
  'x-stainless-helper-method',
  'x-stainless-lang',
  'x-stainless-os',
  'x-stainless-package-version',
  'x-stainless-poll-helper',
  'x-stainless-retry-count',
  'x-stainless-runtime',
  'x-stainless-runtime-version',
  'x-stainless-timeout',
];

/** Response headers scripts may read: the request id (`request-id` on the Anthropic routes) and the rate-limit family. */
export const EXPOSED_RESPONSE_HEADERS = [
  'x-request-id',
  'request-id',
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
];

export interface CorsSettings {
  enabled: boolean;
  origins: string[];
}

export function corsPolicy(settings: () => CorsSettings): Middleware {
  const handler = cors({
    origin: (ctx) => {
      const { enabled, origins } = settings();
      const origin = ctx.get('origin');
      if (!enabled || origin === '') return '';
      if (origins.includes('*')) return '*';
      // An origin not on the list gets no CORS headers at all, so the browser blocks it.
      return origins.includes(origin) ? origin : '';
    },
    // DELETE: a stored response (DELETE /v1/responses/{id}).
    allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowHeaders: ALLOWED_REQUEST_HEADERS,
    exposeHeaders: EXPOSED_RESPONSE_HEADERS,
    maxAge: 600,
    keepHeadersOnError: true,
  });
  return async function corsPolicy(ctx, next) {
    if (!settings().enabled) return next();
    return handler(ctx, next);
  };
}
