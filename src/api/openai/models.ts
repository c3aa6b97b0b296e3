// GET /v1/models and /v1/models/{id}: the OpenAI list shape; aliases resolve to their model.
import Router from '@koa/router';
import { errors } from '../../errors.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { audienceOf, toModelObject } from '../model-view.js';
import { listModels, visibleModel } from '../../model-call/model-calls.js';
import { permissionOf } from '../resolve-model.js';
import { principalOf } from '../../http/request-state.js';

export function modelRoutes(state: GatewayState): Router {
  const router = new Router();
  router.get('/v1/models', (ctx) => {
    const audience = audienceOf(principalOf(ctx));
    ctx.body = { object: 'list', data: listModels(state.registry(), permissionOf(ctx)).map((entry) => toModelObject(entry, audience)) };
  });
  // Model ids may contain slashes ("org/model"), as OpenAI's fine-tuned ids contain colons.
  router.get(/^\/v1\/models\/.+$/, (ctx) => {
    const raw = ctx.path.slice('/v1/models/'.length);
    let name = raw;
    try {
      name = decodeURIComponent(raw);
    } catch {
      // A malformed %-escape is just a name that matches no model.
    }
    const entry = visibleModel(state.registry(), name, permissionOf(ctx));
    if (!entry) throw errors.modelNotFound(name);
    ctx.body = toModelObject(entry, audienceOf(principalOf(ctx)));
  });
  return router;
}
