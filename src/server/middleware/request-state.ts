// The first middleware: creates the state every request carries (src/http/request-state.ts) and
// gives the request its id, honouring a sane incoming x-request-id so traces join up.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { speaksAnthropic } from '../../anthropic/error-body.js';

const ACCEPTABLE_INCOMING_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

export function requestState(shutdownSignal: AbortSignal): Middleware {
  return async function requestState(ctx, next) {
    const incoming = ctx.get('x-request-id');
    const id = ACCEPTABLE_INCOMING_ID.test(incoming) ? incoming : `req_${randomUUID().replaceAll('-', '')}`;
    ctx.state.requestId = id;
    ctx.state.startedAt = performance.now();
    ctx.state.access = {};
    ctx.state.leases = [];
    ctx.state.shutdownSignal = shutdownSignal;
    ctx.set('x-request-id', id);
    // Anthropic's clients read the request id from `request-id` (its SDK shows it on errors).
    if (speaksAnthropic(ctx.path)) ctx.set('request-id', id);
    await next();
  };
}
