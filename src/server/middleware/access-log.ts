// One access line per request, written when the response has finished (or the client left).
// Routes add what they know (model, tokens, queue wait) to ctx.state.access.
import type { Middleware } from 'koa';
import type { Logger } from '../../logger.js';

export interface AccessDetails {
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  queueWaitMs?: number;
  stream?: boolean;
}

export function accessLog(logger: Logger): Middleware {
  return async function accessLog(ctx, next) {
    const started = performance.now();
    const details: AccessDetails = {};
    ctx.state.access = details;
    const write = () => {
      ctx.res.off('finish', write);
      ctx.res.off('close', write);
      logger.info(
        {
          requestId: ctx.state.requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.res.writableFinished ? ctx.status : 499,
          durationMs: Number((performance.now() - started).toFixed(1)),
          key: (ctx.state.principal as { name?: string } | undefined)?.name,
          ...details,
          ...(details.queueWaitMs !== undefined ? { queueWaitMs: Number(details.queueWaitMs.toFixed(1)) } : {}),
        },
        'request',
      );
    };
    ctx.res.once('finish', write);
    ctx.res.once('close', write);
    await next();
  };
}
