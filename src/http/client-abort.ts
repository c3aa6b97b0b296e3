// An AbortSignal that fires when the client goes away before its response has finished, so the
// engine and the queue stop working for nobody, or when the shutdown grace period is over.
import { setMaxListeners } from 'node:events';
import type { Context } from 'koa';

export function clientAbortSignal(ctx: Context): AbortSignal {
  const existing = ctx.state.abortSignal;
  if (existing) return existing;
  const controller = new AbortController();
  // Each of a request's `n` choices (up to 128) listens on it: no leak, so no warning on stderr.
  setMaxListeners(0, controller.signal);
  // One listener on the shared shutdown signal, removed when the response is over, rather than
  // AbortSignal.any(): that keeps a weak reference per request on the shutdown signal, cleaned up
  // only by garbage collection, and cost about 6% of the event loop under an embedding load.
  const shutdown = ctx.state.shutdownSignal;
  const onShutdown = () => controller.abort(shutdown.reason);
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener('abort', onShutdown, { once: true });
  ctx.res.once('close', () => {
    shutdown.removeEventListener('abort', onShutdown);
    if (!ctx.res.writableFinished) controller.abort();
  });
  ctx.state.abortSignal = controller.signal;
  return controller.signal;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR');
}

/** True when work ended because the server is shutting down rather than because the client left. */
export function isShutdownAbort(ctx: Context): boolean {
  return ctx.state.shutdownSignal.aborted && !ctx.res.destroyed;
}
