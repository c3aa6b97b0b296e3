// The OpenAI routes that take a JSON body: chat, completions, Responses, embeddings, rerank.
import Router from '@koa/router';
import { pluginRequestHooks } from '../../plugins/request-hooks.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { jsonBody } from '../../http/json-body.js';
import { chatCompletions } from './chat-completions.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';
import { rerank } from './rerank.js';
import { createResponse } from './responses.js';

export function openAiGenerationRoutes(state: GatewayState): Router {
  const router = new Router();
  const body = jsonBody(() => state.config().api.max_body_bytes);
  // Plugins' request hooks run between the body parser and the handler.
  const hooks = (endpoint: Parameters<typeof pluginRequestHooks>[1]) => pluginRequestHooks(state.plugins, endpoint);
  router.post('/v1/chat/completions', body, hooks('/v1/chat/completions'), (ctx) => chatCompletions(ctx, state));
  router.post('/v1/responses', body, hooks('/v1/responses'), (ctx) => createResponse(ctx, state));
  router.post('/v1/completions', body, hooks('/v1/completions'), (ctx) => completions(ctx, state));
  router.post('/v1/embeddings', body, hooks('/v1/embeddings'), (ctx) => embeddings(ctx, state));
  for (const path of ['/v1/rerank', '/rerank']) router.post(path, body, hooks('/v1/rerank'), (ctx) => rerank(ctx, state));
  return router;
}
