// Gives back the model leases a request took (holdLease, src/http/request-state.ts) once its
// handler is done (a stream's handler returns when the stream has ended), so that unloads and
// reloads wait for exactly the requests still using a model.
import type { Middleware } from 'koa';

export function modelLeases(): Middleware {
  return async function modelLeases(ctx, next) {
    try {
      await next();
    } finally {
      for (const lease of ctx.state.leases) lease.release();
    }
  };
}
