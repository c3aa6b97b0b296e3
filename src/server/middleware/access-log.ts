// One access line per request, written when the response has finished (or the client left),
// and the request's metrics recorded from the same facts. Routes add what they know (model,
// tokens, queue wait, time to first token) to ctx.state.access.
import type { Middleware } from 'koa';
import type { Logger } from '../../logger.js';
import type { GatewayMetrics } from '../../metrics/gateway-metrics.js';
import type { RoutePatternOf } from '../route-pattern.js';

// The rejection kinds are a closed set: a 429 with any other code (a plugin's) counts as "other".
const LIMIT_KINDS: Record<string, string> = {
  rate_limit_exceeded: 'rate',
  tokens_exceed_limit: 'tokens',
  concurrency_limit_exceeded: 'concurrency',
  queue_full: 'queue',
  auth_failures_exceeded: 'auth',
};

function limitKindOf(errorCode: string): string {
  return Object.hasOwn(LIMIT_KINDS, errorCode) ? LIMIT_KINDS[errorCode] : 'other';
}

export function accessLog(logger: Logger, metrics: GatewayMetrics, routePatternOf: RoutePatternOf): Middleware {
  return async function accessLog(ctx, next) {
    const { startedAt: started, access: details } = ctx.state;
    // Written once the handler is done (so a cancelled generation's token count is known) and the
    // response is over (so its real end and status are).
    let handlerDone = false;
    let responseDone = false;
    let written = false;
    const writeWhenDone = () => {
      if (!handlerDone || !responseDone || written) return;
      written = true;
      write();
    };
    const onResponseEnd = () => {
      responseDone = true;
      writeWhenDone();
    };
    const write = () => {
      const durationMs = performance.now() - started;
      const status = ctx.res.writableFinished ? ctx.status : 499;
      const key = ctx.state.principal?.name;
      const model = details.model ?? '';
      // Every label comes from a closed set: route patterns, configured model ids and key names.
      const matchedRoute = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
      const route = matchedRoute === undefined ? routePatternOf(ctx.path, ctx.method) : String(matchedRoute);
      metrics.requests.inc({ route, model, status: String(status) });
      metrics.requestDuration.observe({ route, model }, durationMs / 1000);
      if (details.queueWaitMs !== undefined) metrics.queueWait.observe({ model }, details.queueWaitMs / 1000);
      if (details.timeToFirstTokenMs !== undefined) metrics.timeToFirstToken.observe({ model }, details.timeToFirstTokenMs / 1000);
      if (details.promptTokens) metrics.promptTokens.inc({ model, key: key ?? '' }, details.promptTokens);
      if (details.completionTokens) metrics.completionTokens.inc({ model, key: key ?? '' }, details.completionTokens);
      if (status === 429 && details.errorCode) metrics.rateLimitRejections.inc({ kind: limitKindOf(details.errorCode) });
      logger.info(
        {
          requestId: ctx.state.requestId,
          method: ctx.method,
          path: ctx.path,
          status,
          durationMs: Number(durationMs.toFixed(1)),
          key,
          ...details,
          ...(details.queueWaitMs !== undefined ? { queueWaitMs: Number(details.queueWaitMs.toFixed(1)) } : {}),
          ...(details.timeToFirstTokenMs !== undefined ? { timeToFirstTokenMs: Number(details.timeToFirstTokenMs.toFixed(1)) } : {}),
        },
        'request',
      );
    };
    ctx.res.once('finish', onResponseEnd);
    ctx.res.once('close', onResponseEnd);
    try {
      await next();
    } finally {
      handlerDone = true;
      writeWhenDone();
    }
  };
}
