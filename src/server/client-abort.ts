// An AbortSignal that fires when the client goes away before its response has finished, so the
// engine and the queue stop working for nobody, or when the shutdown grace period is over.
import type { Context } from 'koa';

export function clientAbortSignal(ctx: Context): AbortSignal {
  const existing = ctx.state.abortSignal as AbortSignal | undefined;
  if (existing) return existing;
  const controller = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) controller.abort();
  });
  const shutdown = ctx.state.shutdownSignal as AbortSignal | undefined;
  const signal = shutdown ? AbortSignal.any([controller.signal, shutdown]) : controller.signal;
  ctx.state.abortSignal = signal;
  return signal;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR');
}

/** True when work ended because the server is shutting down rather than because the client left. */
export function isShutdownAbort(ctx: Context): boolean {
  return (ctx.state.shutdownSignal as AbortSignal | undefined)?.aborted === true && !ctx.res.destroyed;
}
