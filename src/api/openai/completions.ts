// POST /v1/completions (the legacy text completion API)
import type { Context } from 'koa';
import { errors } from '../../errors.js';
import { completionRequestSchema, type CompletionRequest } from '../../openai/generation-request.js';
import { samplingOptions } from '../../openai/generation-options.js';
import { textCompletionWire } from '../../openai/generation-wire.js';
import { checkPromptFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal } from '../../http/client-abort.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { openModelFor } from '../resolve-model.js';
import { tokenBudgetOf } from '../../http/request-state.js';
import { withWireNames } from '../error-mapping.js';
import { respondWithGeneration } from './generation-runner.js';

/** The legacy API's default when a request sets no max_tokens. */
const OPENAI_DEFAULT_MAX_TOKENS = 16;

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
  const model = await openModelFor(ctx, state, request.model, ['chat', 'completion'], '/v1/completions');
  ctx.state.access.model = model.id;

  const sampling = samplingOptions(request, model.config.default_temperature);
  for (const text of texts) checkPromptFits(text.length + (request.suffix?.length ?? 0), model.info.contextLength, 'prompt');
  const prepared = [];
  for (const text of texts) prepared.push(await model.prepareText(text, request.suffix ?? undefined));
  // The longest prompt decides whether max_tokens fits for all of them.
  const longest = Math.max(...prepared.map((prompt) => prompt.promptTokens));
  const maxTokens = model.maxTokensFor(longest, request.max_tokens ?? undefined, model.config.default_max_tokens ?? OPENAI_DEFAULT_MAX_TOKENS);
  const totalPromptTokens = prepared.reduce((sum, prompt) => sum + prompt.promptTokens, 0);
  await tokenBudgetOf(ctx)?.reserve(totalPromptTokens, maxTokens * texts.length * choicesPerPrompt);
  const includeUsage = request.stream_options?.include_usage === true;
  const promptOf = (index: number) => texts[Math.floor(index / choicesPerPrompt)];
  await respondWithGeneration(ctx, {
    handle: model,
    prompts: prepared,
    choicesPerPrompt,
    prefixOf: request.echo ? promptOf : undefined,
    wire: textCompletionWire(model.id, request.stream === true && includeUsage, (index) => (request.echo ? 0 : promptOf(index).length)),
    stream: request.stream === true,

    promptTokens: totalPromptTokens,
    // Results are in choice order: the first choice of each prompt carries that prompt's count.
    exactPromptTokens: model.promptTokensAreEstimates
      ? (results) => texts.reduce((sum, _text, prompt) => sum + results[prompt * choicesPerPrompt].promptTokens, 0)
      : undefined,
    options: { ...sampling, maxTokens, topLogprobs: request.logprobs ?? undefined },
    signal: clientAbortSignal(ctx),
    streamStallTimeoutMs: state.config().api.stream_stall_timeout * 1000,
    logger: state.logger,
    wireNames: {},
  });
}
