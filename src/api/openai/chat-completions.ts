// POST /v1/chat/completions
import type { Context } from 'koa';
import { errors } from '../../errors.js';
import { toChatMessages } from '../../openai/chat-messages.js';
import { legacyToolWireNames, requestTools } from '../../openai/chat-tools.js';
import { chatCompletionRequestSchema, type ChatCompletionRequest } from '../../openai/generation-request.js';
import { samplingOptions } from '../../openai/generation-options.js';
import { chatCompletionWire } from '../../openai/generation-wire.js';
import { checkPromptFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal } from '../../http/client-abort.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { openModelFor } from '../resolve-model.js';
import { tokenBudgetOf } from '../../http/request-state.js';
import { withWireNames, type WireNames } from '../error-mapping.js';
import { respondWithGeneration } from './generation-runner.js';

export async function chatCompletions(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseRequest(chatCompletionRequestSchema, ctx.request.body);
  const wireNames = {
    prompt: 'messages',
    maxTokens: request.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    ...legacyToolWireNames(request),
  };
  await withWireNames(wireNames, () => serveChat(ctx, state, request, wireNames));
}

async function serveChat(ctx: Context, state: GatewayState, request: ChatCompletionRequest, wireNames: WireNames): Promise<void> {
  if (request.max_tokens != null && request.max_completion_tokens != null && request.max_tokens !== request.max_completion_tokens) {
    throw errors.invalidRequest("Set either 'max_tokens' or 'max_completion_tokens', not both with different values.", 'max_completion_tokens');
  }
  if (request.top_logprobs != null && !request.logprobs) {
    throw errors.invalidRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs');
  }
  const api = state.config().api;
  const messages = toChatMessages(request.messages, { maxImageBytes: api.max_image_bytes, maxImagesPerRequest: api.max_images_per_request });
  const { tools, legacy } = requestTools(request);
  const model = await openModelFor(ctx, state, request.model, ['chat'], '/v1/chat/completions');
  ctx.state.access.model = model.id;

  const sampling = samplingOptions(request, model.config.default_temperature);
  checkPromptFits(
    messages.reduce((sum, message) => sum + message.content.length, 0),
    model.info.contextLength,
    'messages',
  );
  const reasoningEffort = request.reasoning_effort ?? undefined;
  const promptOptions = { ...(tools !== undefined ? { tools } : {}), ...(reasoningEffort !== undefined ? { reasoningEffort } : {}) };
  const prompt = await model.prepareChat(messages, Object.keys(promptOptions).length === 0 ? undefined : promptOptions);
  const maxTokens = model.maxTokensFor(prompt.promptTokens, request.max_completion_tokens ?? request.max_tokens ?? undefined, model.config.default_max_tokens);
  const choices = request.n ?? 1;
  await tokenBudgetOf(ctx)?.reserve(prompt.promptTokens, maxTokens * choices);
  const includeUsage = request.stream_options?.include_usage === true;
  await respondWithGeneration(ctx, {
    handle: model,
    prompts: [prompt],
    choicesPerPrompt: choices,
    wire: chatCompletionWire(model.id, request.stream === true && includeUsage, { legacyFunctions: legacy }),
    stream: request.stream === true,

    promptTokens: prompt.promptTokens,
    exactPromptTokens: model.promptTokensAreEstimates ? (results) => results[0].promptTokens : undefined,
    options: { ...sampling, maxTokens, topLogprobs: request.logprobs ? (request.top_logprobs ?? 0) : undefined, ...promptOptions },
    signal: clientAbortSignal(ctx),
    streamStallTimeoutMs: api.stream_stall_timeout * 1000,
    logger: state.logger,
    wireNames,
  });
}
