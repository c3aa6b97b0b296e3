// Gives every request an id, honouring a sane incoming x-request-id so traces join up.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';

const ACCEPTABLE_INCOMING_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

export function requestId(): Middleware {
  return async function requestId(ctx, next) {
    const incoming = ctx.get('x-request-id');
    const id = ACCEPTABLE_INCOMING_ID.test(incoming) ? incoming : `req_${randomUUID().replaceAll('-', '')}`;
    ctx.state.requestId = id;
    ctx.set('x-request-id', id);
    await next();
  };
}
