// Readiness, metrics and the admin endpoints (reload, load and unload a model).
import Router from '@koa/router';
import type { Context } from 'koa';
import { ConfigError } from '../../config/load-config.js';
import { errors } from '../../errors.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { principalOf } from '../../http/request-state.js';
import { publicAudienceOf, toHealthView } from '../model-view.js';

/**
 * GET /ready: 200 once startup is done (as /health: loads after it do not count), no startup model
 * is unavailable, and the gateway is not shutting down.
 */
export function readinessRoutes(state: GatewayState): Router {
  const router = new Router();
  router.get('/ready', async (ctx) => {
    const entries = state.registry().list();
    const audience = await publicAudienceOf(ctx, state.keyRing(), state.failedKeys);
    const models = Object.fromEntries(entries.map((entry) => [entry.id, toHealthView(entry, audience)]));
    const startupDone = state.registry().startupDone();
    const waiting = entries.filter((entry) => entry.config.load === 'startup' && (startupDone ? entry.status === 'unavailable' : entry.status !== 'ready'));
    const ready = !state.shuttingDown() && startupDone && waiting.length === 0;
    ctx.status = ready ? 200 : 503;
    const reason = state.shuttingDown() ? 'shutting down' : waiting.map((entry) => `${entry.id} is ${entry.status}`).join('; ');
    ctx.body = { status: ready ? 'ready' : 'not ready', ...(ready ? {} : { reason }), models };
  });
  return router;
}

/** GET /metrics in Prometheus text format. */
/**
 * `/metrics`. Behind `[metrics] require_auth` ("by-key"), every key's usage series are for admin
 * keys: another key sees its own, so that it can follow its usage without reading anyone else's.
 */
export function metricsRoutes(state: GatewayState, keySeries: 'all' | 'by-key' = 'all'): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    const principal = principalOf(ctx);
    ctx.set('content-type', state.metrics.contentType);
    ctx.body = await state.metrics.exposition(keySeries === 'all' || principal?.role === 'admin' ? 'all' : { ownKey: principal?.name });
  });
  return router;
}

function requireAdmin(ctx: Context): void {
  if (principalOf(ctx)?.role !== 'admin') throw errors.permissionDenied('This endpoint needs an admin key (a key with role = "admin").');
}

export function adminRoutes(state: GatewayState): Router {
  const router = new Router();
  router.post('/v1/admin/reload', async (ctx) => {
    requireAdmin(ctx);
    try {
      ctx.body = { status: 'reloaded', ...(await state.reload()) };
    } catch (error) {
      if (error instanceof ConfigError)
        throw errors.invalidRequest(`The config file is invalid; the running config stays.\n${error.message}`, null, 'invalid_config');
      throw error;
    }
  });
  router.post('/v1/admin/models/:id/load', async (ctx) => {
    requireAdmin(ctx);
    const entry = await state.registry().loadModel(ctx.params.id);
    ctx.status = entry.status === 'ready' ? 200 : 503;
    ctx.body = { id: entry.id, ...toHealthView(entry, 'admin') };
  });
  router.post('/v1/admin/models/:id/unload', async (ctx) => {
    requireAdmin(ctx);
    const entry = await state.registry().unloadModel(ctx.params.id);
    ctx.body = { id: entry.id, ...toHealthView(entry, 'admin') };
  });
  return router;
}
