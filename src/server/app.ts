// The Koa app: a fixed middleware order (see DESIGN.md's request flow) and the routers.
import Koa from 'koa';
import Router from '@koa/router';
import { errors } from '../errors.js';
import { healthRoutes } from '../api/native/health.js';
import { modelRoutes } from '../api/openai/models.js';
import { openAiGenerationRoutes } from '../api/openai/generation-routes.js';
import { authenticate } from './middleware/auth.js';
import { corsPolicy } from './middleware/cors.js';
import { errorEnvelope } from './middleware/error-envelope.js';
import { requestId } from './middleware/request-id.js';
import { accessLog } from './middleware/access-log.js';
import { rateLimit } from '../limits/rate-limit.js';
import type { GatewayState } from './gateway-state.js';

export function createApp(state: GatewayState): Koa {
  const app = new Koa();
  // Errors never reach koa's default handler (it would print stacks); the envelope catches all.
  app.silent = true;

  const publicRoutes = healthRoutes(state);
  const apiRouter = new Router();
  for (const router of [modelRoutes(state), openAiGenerationRoutes(state)]) apiRouter.use(router.routes());

  app.use(requestId());
  app.use(accessLog(state.logger));
  app.use(errorEnvelope(state.logger));
  app.use(corsPolicy(() => ({ enabled: state.config().api.cors_enabled, origins: state.config().api.cors_origins })));
  app.use(publicRoutes.routes());
  app.use(async function apiEnabled(ctx, next) {
    if (!state.config().api.enabled) throw errors.routeNotFound(ctx.method, ctx.path);
    await next();
  });
  app.use(authenticate(() => state.keyRing()));
  app.use(
    rateLimit(
      () => ({ store: state.limiterStore(), keyRing: state.keyRing(), maxReservedCompletion: state.config().api.rate_limit.max_reserved_completion_tokens }),
      state.logger,
    ),
  );
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
