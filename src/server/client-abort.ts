// An AbortSignal that fires when the client goes away before its response has finished, so the
// engine and the queue stop working for nobody.
import type { Context } from 'koa';

export function clientAbortSignal(ctx: Context): AbortSignal {
  const existing = ctx.state.clientAbort as AbortController | undefined;
  if (existing) return existing.signal;
  const controller = new AbortController();
  ctx.state.clientAbort = controller;
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: string }).code === 'ABORT_ERR');
}
