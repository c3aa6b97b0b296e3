// GET /health and /v1/health: public. 503 while a startup model is loading, so orchestrators
// wait; 200 afterwards, "degraded" when a model could not be loaded or its engine is restarting.
// Anyone reads statuses; why a model, the limiter store or the response store failed (paths, addresses, an engine's
// last log lines) only a request with an admin key.
import Router, { type RouterMiddleware } from '@koa/router';
import type { GatewayState } from '../../http/gateway-state.js';
import { publicAudienceOf, toHealthView } from '../model-view.js';

export function healthRoutes(state: GatewayState): Router {
  const router = new Router();
  const handler: RouterMiddleware = async (ctx) => {
    const entries = state.registry().list();
    const audience = await publicAudienceOf(ctx, state.keyRing(), state.failedKeys);
    const models = Object.fromEntries(entries.map((entry) => [entry.id, toHealthView(entry, audience)]));
    const forAudience = <T extends { detail?: string }>({ detail, ...status }: T) =>
      audience === 'admin' && detail !== undefined ? { ...status, detail } : status;
    const store = forAudience(state.limiterStore().status());
    const responses = forAudience(state.responseStore().status());
    // Only the first load of the startup models makes /health a 503 (see startupDone).
    if (!state.registry().startupDone()) {
      ctx.status = 503;
      ctx.set('retry-after', '5');
      ctx.body = {
        error: { message: 'Loading model', type: 'service_unavailable_error', param: null, code: 'model_loading' },
        status: 'loading',
        models,
        rate_limit: store,
        responses,
      };
      return;
    }
    const unavailable = entries.some((entry) => entry.status === 'unavailable' || entry.status === 'restarting');
    ctx.body = { status: unavailable || !store.healthy || !responses.healthy ? 'degraded' : 'ok', models, rate_limit: store, responses };
  };
  router.get('/health', handler);
  router.get('/v1/health', handler);
  return router;
}
