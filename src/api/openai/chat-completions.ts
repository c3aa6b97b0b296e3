// POST /v1/chat/completions, and the chat pipeline every chat-shaped route goes through: the agent
// APIs (Responses, Anthropic Messages) translate their requests into a chat completion request and
// answer through the same steps with their own wire format.
import type { Context } from 'koa';
import type { PreparedPrompt } from '../../engine/contract.js';
import type { ModelHandle } from '../../model-call/model-calls.js';
import { errors } from '../../errors.js';
import { toChatMessages } from '../../openai/chat-messages.js';
import { legacyToolWireNames, requestTools } from '../../openai/chat-tools.js';
import { chatCompletionRequestSchema, type ChatCompletionRequest } from '../../openai/generation-request.js';
import { samplingOptions } from '../../openai/generation-options.js';
import { chatCompletionWire, type GenerationWire } from '../../openai/generation-wire.js';
import { imageLimitsOf } from '../../openai/image-parts.js';
import { checkPromptFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal } from '../../http/client-abort.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { openModelFor } from '../resolve-model.js';
import { tokenBudgetOf } from '../../http/request-state.js';
import { withWireNames, type WireNames } from '../error-mapping.js';
import { respondWithGeneration, type GenerationRun } from './generation-runner.js';

/** How a route answers a chat completion request it made or received. */
export interface ChatRoute {
  /** The route's path: the model must be a chat model its key may use. */
  endpoint: string;
  /** How the route's request spells the fields an error may name. */
  wireNames: WireNames;
  /** The wire that writes the answer, made once the prompt is counted. */
  wire(modelId: string, promptTokens: number): GenerationWire;
  /** An exact thought budget the route's request set (Anthropic's `thinking.budget_tokens`). */
  thinkingTokens?: number;
  onFinished?: GenerationRun['onFinished'];
}

export async function chatCompletions(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseRequest(chatCompletionRequestSchema, ctx.request.body);
  const wireNames = {
    prompt: 'messages',
    maxTokens: request.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    ...legacyToolWireNames(request),
  };
  const includeUsage = request.stream === true && request.stream_options?.include_usage === true;
  const legacyFunctions = requestTools(request).legacy;
  await withWireNames(wireNames, () =>
    answerChat(ctx, state, request, {
      endpoint: '/v1/chat/completions',
      wireNames,
      wire: (modelId) => chatCompletionWire(modelId, includeUsage, { legacyFunctions }),
    }),
  );
}

/** A chat request's model, opened for its route, and its prompt rendered and counted. */
export interface PreparedChat {
  model: ModelHandle;
  prompt: PreparedPrompt;
  sampling: ReturnType<typeof samplingOptions>;
  promptOptions: Pick<GenerationRun['options'], 'tools' | 'reasoningEffort' | 'thinkingTokens'>;
}

/** What a route that translated its request into a chat request adds to it. */
export interface ChatPreparation {
  /** How the route's request names its prompt, for the 400 of one that cannot fit (default `messages`). */
  promptParam?: string;
  /** An exact thought budget the route's own request set (Anthropic's `thinking.budget_tokens`). */
  thinkingTokens?: number;
}

/** Checks a chat request, opens its model and renders its prompt once (also what counting a prompt's tokens needs). */
export async function prepareChatRequest(
  ctx: Context,
  state: GatewayState,
  request: ChatCompletionRequest,
  endpoint: string,
  { promptParam = 'messages', thinkingTokens }: ChatPreparation = {},
): Promise<PreparedChat> {
  if (request.max_tokens != null && request.max_completion_tokens != null && request.max_tokens !== request.max_completion_tokens) {
    throw errors.invalidRequest("Set either 'max_tokens' or 'max_completion_tokens', not both with different values.", 'max_completion_tokens');
  }
  if (request.top_logprobs != null && !request.logprobs) {
    throw errors.invalidRequest("'top_logprobs' requires 'logprobs' to be true.", 'top_logprobs');
  }
  const messages = toChatMessages(request.messages, imageLimitsOf(state.config().api));
  const { tools } = requestTools(request);
  const model = await openModelFor(ctx, state, request.model, ['chat'], endpoint);
  ctx.state.access.model = model.id;
  const sampling = samplingOptions(request, model.config.default_temperature);
  checkPromptFits(
    messages.reduce((sum, message) => sum + message.content.length, 0),
    model.info.contextLength,
    promptParam,
  );
  const reasoningEffort = request.reasoning_effort ?? undefined;
  const promptOptions = {
    ...(tools !== undefined ? { tools } : {}),
    ...(reasoningEffort !== undefined ? { reasoningEffort } : {}),
    ...(thinkingTokens !== undefined ? { thinkingTokens } : {}),
  };
  const prompt = await model.prepareChat(messages, Object.keys(promptOptions).length === 0 ? undefined : promptOptions);
  return { model, prompt, sampling, promptOptions };
}

/** Answers a chat completion request through the model's handle, in the route's wire format. */
export async function answerChat(ctx: Context, state: GatewayState, request: ChatCompletionRequest, route: ChatRoute): Promise<void> {
  const { model, prompt, sampling, promptOptions } = await prepareChatRequest(ctx, state, request, route.endpoint, {
    promptParam: route.wireNames.prompt,
    thinkingTokens: route.thinkingTokens,
  });
  const api = state.config().api;
  const maxTokens = model.maxTokensFor(prompt.promptTokens, request.max_completion_tokens ?? request.max_tokens ?? undefined, model.config.default_max_tokens);
  const choices = request.n ?? 1;
  await tokenBudgetOf(ctx)?.reserve(prompt.promptTokens, maxTokens * choices);
  await respondWithGeneration(ctx, {
    handle: model,
    prompts: [prompt],
    choicesPerPrompt: choices,
    wire: route.wire(model.id, prompt.promptTokens),
    stream: request.stream === true,
    promptTokens: prompt.promptTokens,
    exactPromptTokens: model.promptTokensAreEstimates ? (results) => results[0].promptTokens : undefined,
    options: {
      ...sampling,
      maxTokens,
      topLogprobs: request.logprobs ? (request.top_logprobs ?? 0) : undefined,
      ...promptOptions,
    },
    signal: clientAbortSignal(ctx),
    streamStallTimeoutMs: api.stream_stall_timeout * 1000,
    logger: state.logger,
    wireNames: route.wireNames,
    onFinished: route.onFinished,
  });
}
