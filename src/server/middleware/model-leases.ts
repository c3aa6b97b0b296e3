// Gives back the model leases a request took once its handler is done (a stream's handler
// returns when the stream has ended), so that unloads and reloads wait for exactly the requests
// still using a model.
import type { Context, Middleware } from 'koa';
import type { ModelLease } from '../../registry/model-registry.js';

export function holdLease(ctx: Context, lease: ModelLease): void {
  ((ctx.state.leases ??= []) as ModelLease[]).push(lease);
}

export function modelLeases(): Middleware {
  return async function modelLeases(ctx, next) {
    try {
      await next();
    } finally {
      for (const lease of (ctx.state.leases ?? []) as ModelLease[]) lease.release();
    }
  };
}
