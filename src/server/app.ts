// The Koa app: a fixed middleware order (see DESIGN.md's request flow) and the routers.
import Koa from 'koa';
import Router from '@koa/router';
import { errors } from '../errors.js';
import { healthRoutes } from '../api/native/health.js';
import { adminRoutes, metricsRoutes, readinessRoutes } from '../api/native/operations.js';
import { modelRoutes } from '../api/openai/models.js';
import { openAiGenerationRoutes } from '../api/openai/generation-routes.js';
import { storedResponseRoutes } from '../api/openai/responses.js';
import { anthropicRoutes } from '../api/anthropic/messages.js';
import { accessLog } from './middleware/access-log.js';
import { authenticate } from './middleware/auth.js';
import { corsPolicy } from './middleware/cors.js';
import { errorEnvelope } from './middleware/error-envelope.js';
import { modelLeases } from './middleware/model-leases.js';
import { rateLimit } from './middleware/rate-limit.js';
import { requestState } from './middleware/request-state.js';
import { routePatternOf } from './route-pattern.js';
import type { GatewayState } from '../http/gateway-state.js';

export function createApp(state: GatewayState): Koa {
  const app = new Koa();
  // Errors never reach koa's default handler (it would print stacks); the envelope catches all.
  app.silent = true;

  const publicRouter = new Router();
  publicRouter.use(healthRoutes(state).routes(), readinessRoutes(state).routes());
  const metrics = metricsRoutes(state);
  const metricsByKey = metricsRoutes(state, 'by-key');
  const exposeMetrics = () => state.config().metrics.enabled && state.config().metrics.address === undefined;
  const apiRouter = new Router();
  const routers = [modelRoutes(state), openAiGenerationRoutes(state), storedResponseRoutes(state), anthropicRoutes(state), adminRoutes(state)];
  for (const router of routers) apiRouter.use(router.routes());
  // Plugins' routes sit beside the API's: after authentication and rate limits.
  for (const { router } of state.plugins?.routers ?? []) apiRouter.use(router.routes());

  app.use(requestState(state.shutdownSignal));
  app.use(accessLog(state.logger, state.metrics, routePatternOf([publicRouter, metrics, apiRouter])));
  app.use(errorEnvelope(state.logger));
  app.use(async function drainOnShutdown(ctx, next) {
    if (state.shuttingDown()) {
      // Clients should open their next connection to another replica.
      ctx.set('connection', 'close');
      if (ctx.path !== '/health' && ctx.path !== '/ready' && ctx.path !== '/metrics')
        throw errors.unavailable('The server is shutting down; retry on another replica.', 1_000, 'shutting_down');
    }
    await next();
  });
  app.use(corsPolicy(() => ({ enabled: state.config().api.cors_enabled, origins: state.config().api.cors_origins })));
  app.use(publicRouter.routes());
  app.use(async function publicMetrics(ctx, next) {
    if (ctx.path === '/metrics' && exposeMetrics() && !state.config().metrics.require_auth) return metrics.routes()(ctx as never, next);
    await next();
  });
  app.use(async function apiEnabled(ctx, next) {
    if (!state.config().api.enabled && ctx.path !== '/metrics') throw errors.routeNotFound(ctx.method, ctx.path);
    await next();
  });
  app.use(authenticate(() => state.keyRing(), state.failedKeys));
  app.use(async function protectedMetrics(ctx, next) {
    if (ctx.path === '/metrics' && exposeMetrics()) {
      // [metrics] require_auth needs a valid key even where [api] require_auth lets anonymous requests in.
      if (!ctx.state.principal)
        throw errors.invalidApiKey('/metrics needs an API key ([metrics] require_auth). Send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".');
      return metricsByKey.routes()(ctx as never, next);
    }
    await next();
  });
  app.use(
    rateLimit(
      () => ({ store: state.limiterStore(), keyRing: state.keyRing(), maxReservedCompletion: state.config().api.rate_limit.max_reserved_completion_tokens }),
      state.logger,
    ),
  );
  app.use(modelLeases());
  app.use(apiRouter.routes());
  app.use(async function unmatchedRoute(ctx) {
    // A path that exists under another method is a 405 naming the methods it takes.
    const matched = apiRouter.match(ctx.path, ctx.method);
    const allowed = [...new Set(matched.path.flatMap((layer) => layer.methods))].filter((method) => method !== 'HEAD');
    if (allowed.length === 0) throw errors.routeNotFound(ctx.method, ctx.path);
    if (ctx.method === 'OPTIONS') {
      ctx.set('allow', [...allowed, 'OPTIONS'].join(', '));
      ctx.status = 204;
      return;
    }
    throw errors.methodNotAllowed(ctx.method, ctx.path, allowed);
  });
  return app;
}

/** The app of the separate metrics address ([metrics] address). */
export function createMetricsApp(state: GatewayState): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(requestState(state.shutdownSignal));
  app.use(errorEnvelope(state.logger));
  app.use(metricsRoutes(state).routes());
  app.use(async function unknownRoute(ctx) {
    throw errors.routeNotFound(ctx.method, ctx.path);
  });
  return app;
}
