// POST /v1/messages and POST /v1/messages/count_tokens: Anthropic's Messages API, a translation
// layer over the chat pipeline. The request is parsed with its own schema (errors name its own
// fields), translated into a chat completion request, and answered by answerChat with the Messages
// wire: keys, model permissions, per-key limits, the queue, cancel on disconnect and the context
// check apply as on /v1/chat/completions. Errors leave in Anthropic's shape (src/anthropic/error-body.ts).
import Router from '@koa/router';
import type { Context } from 'koa';
import { parseCountTokensRequest, parseMessagesRequest } from '../../anthropic/messages-request.js';
import { thinkingTokensOf, toChatGenerationRequest, toChatRequest } from '../../anthropic/messages-translation.js';
import { messagesWire } from '../../anthropic/messages-wire.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { jsonBody } from '../../http/json-body.js';
import { imageLimitsOf } from '../../openai/image-parts.js';
import { pluginRequestHooks } from '../../plugins/request-hooks.js';
import { withWireNames } from '../error-mapping.js';
import { answerChat, prepareChatRequest } from '../openai/chat-completions.js';

async function messages(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseMessagesRequest(ctx.request.body);
  const { chat, wireNames } = toChatGenerationRequest(request, imageLimitsOf(state.config().api));
  const thinkingTokens = thinkingTokensOf(request);
  const omitThinking = request.thinking !== undefined && 'display' in request.thinking && request.thinking.display === 'omitted';
  await withWireNames(wireNames, () =>
    answerChat(ctx, state, chat, {
      endpoint: '/v1/messages',
      wireNames,
      wire: (modelId, promptTokens) => messagesWire(modelId, promptTokens, { omitThinking }),
      ...(thinkingTokens !== undefined ? { thinkingTokens } : {}),
    }),
  );
}

/** The prompt's tokens as a generation would count them: the same rendering, system prompt and tools included. */
async function countTokens(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseCountTokensRequest(ctx.request.body);
  const { chat, wireNames } = toChatRequest(request, imageLimitsOf(state.config().api));
  const { prompt } = await withWireNames(wireNames, () =>
    prepareChatRequest(ctx, state, chat, '/v1/messages/count_tokens', {
      thinkingTokens: thinkingTokensOf(request),
    }),
  );
  ctx.body = { input_tokens: prompt.promptTokens };
}

export function anthropicRoutes(state: GatewayState): Router {
  const router = new Router();
  const body = jsonBody(() => state.config().api.max_body_bytes);
  router.post('/v1/messages', body, pluginRequestHooks(state.plugins, '/v1/messages'), (ctx) => messages(ctx, state));
  router.post('/v1/messages/count_tokens', body, pluginRequestHooks(state.plugins, '/v1/messages/count_tokens'), (ctx) => countTokens(ctx, state));
  return router;
}
