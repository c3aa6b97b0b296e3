// POST /v1/completions (the legacy text completion API)
import type { Context } from 'koa';
import { errors } from '../../errors.js';
import { completionRequestSchema, type CompletionRequest } from '../../openai/generation-request.js';
import { samplingOptions } from '../../openai/generation-options.js';
import { textCompletionWire } from '../../openai/generation-wire.js';
import { checkPromptFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal } from '../../server/client-abort.js';
import type { GatewayState } from '../../server/gateway-state.js';
import type { AccessDetails } from '../../server/middleware/access-log.js';
import { resolveModel } from '../resolve-model.js';
import { tokenBudgetOf } from '../../limits/token-budget.js';
import { resolveMaxTokens } from '../../model-call/context-budget.js';
import { withWireNames } from '../error-mapping.js';
import { respondWithGeneration } from './generation-runner.js';

export async function completions(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseRequest(completionRequestSchema, ctx.request.body);
  await withWireNames({}, () => serveCompletions(ctx, state, request));
}

async function serveCompletions(ctx: Context, state: GatewayState, request: CompletionRequest): Promise<void> {
  const prompts = typeof request.prompt === 'string' ? [request.prompt] : request.prompt;
  if (prompts.some((prompt) => typeof prompt !== 'string')) {
    throw errors.invalidRequest("Token arrays in 'prompt' are not supported; send the prompt as text.", 'prompt', 'unsupported_parameter');
  }
  const texts = prompts as string[];
  const choicesPerPrompt = request.n ?? 1;
  if (request.best_of != null && request.best_of !== choicesPerPrompt) {
    throw errors.invalidRequest("'best_of' is not supported unless it equals 'n'.", 'best_of', 'unsupported_parameter');
  }
  if (request.echo && request.suffix) throw errors.invalidRequest("'echo' and 'suffix' cannot be used together.", 'suffix');
  const { entry, model, scheduler } = await resolveModel(ctx, state, request.model, ['chat', 'completion'], '/v1/completions');
  (ctx.state.access as AccessDetails).model = entry.id;
  const completion = model.textCompletion;
  if (!completion) throw errors.invalidRequest(`Model '${entry.id}' cannot complete text.`, 'model', 'model_type_mismatch');

  const sampling = samplingOptions(request, entry.config.default_temperature);
  for (const text of texts) checkPromptFits(text.length + (request.suffix?.length ?? 0), model.info.contextLength, 'prompt');
  const promptTokenCounts = await Promise.all(texts.map((text) => completion.countTextTokens(text)));
  // The longest prompt decides whether max_tokens fits for all of them.
  const longest = Math.max(...promptTokenCounts);
  const maxTokens = resolveMaxTokens({
    promptTokens: longest,
    requested: request.max_tokens ?? undefined,
    defaultMaxTokens: entry.config.default_max_tokens ?? 16,
    contextLength: model.info.contextLength,
  });
  const totalPromptTokens = promptTokenCounts.reduce((sum, count) => sum + count, 0);
  await tokenBudgetOf(ctx)?.reserve(totalPromptTokens, maxTokens * texts.length * choicesPerPrompt);
  const includeUsage = request.stream_options?.include_usage === true;
  const suffix = request.suffix ?? undefined;
  const jobs = texts.flatMap((text, promptIndex) =>
    Array.from({ length: choicesPerPrompt }, (_, choice) => ({
      index: promptIndex * choicesPerPrompt + choice,
      prefix: request.echo ? text : '',
      generate: (options: Parameters<typeof completion.generateText>[1]) =>
        completion.generateText(text, { ...options, suffix, seed: options.seed === undefined ? undefined : options.seed + choice }),
    })),
  );
  await respondWithGeneration(ctx, {
    jobs,
    scheduler,
    wire: textCompletionWire(entry.id, request.stream === true && includeUsage, (index) => (request.echo ? 0 : texts[Math.floor(index / choicesPerPrompt)].length)),
    stream: request.stream === true,
    includeUsage,
    promptTokens: totalPromptTokens,
    // Results are in job order: the first choice of each prompt carries that prompt's count.
    exactPromptTokens: model.promptTokensAreEstimates ? (results) => texts.reduce((sum, _text, prompt) => sum + results[prompt * choicesPerPrompt].promptTokens, 0) : undefined,
    options: { ...sampling, maxTokens, topLogprobs: request.logprobs ?? undefined },
    signal: clientAbortSignal(ctx),
    streamStallTimeoutMs: state.config().api.stream_stall_timeout * 1000,
    logger: state.logger,
    wireNames: {},
  });
}
