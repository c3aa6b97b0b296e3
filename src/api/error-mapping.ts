// The one place where what the layers below the routes throw becomes what a client sees: the
// status, the OpenAI envelope, Retry-After, and the wire names of the request's fields. Engines,
// registry, scheduler and model calls throw DomainErrors in their own terms; the error middleware,
// the stream writer's error frame and the plugins' afterResponse hooks all go through here.
import type { ModelType } from '../engine/contract.js';
import {
  DomainError,
  EngineUnavailableError,
  InputTooLongError,
  InvalidImageError,
  InvalidInputError,
  TokenTimeoutError,
  UnsupportedFeatureError,
} from '../engine/errors.js';
import { errors, GatewayError } from '../errors.js';
import {
  ContextLengthError,
  GenerationTimeoutError,
  QueueFullError,
  QueueTimeoutError,
  ModelCapabilityError,
  ModelLoadingError,
  ModelNotFoundError,
  ModelNotNamedError,
  ModelNotPermittedError,
  ModelTypeMismatchError,
  ModelUnavailableError,
  ModelUnloadingError,
} from '../model-call/errors.js';
import { ResponseStoreUnavailableError } from '../responses/response-store.js';

/** How one request spells the fields the domain errors name (internal name → wire name). */
export type WireNames = Readonly<Record<string, string>>;

/** Internal names whose wire name is the same for every endpoint. */
const COMMON_WIRE_NAMES: WireNames = {
  prompt: 'prompt',
  maxTokens: 'max_tokens',
  logitBias: 'logit_bias',
  topLogprobs: 'top_logprobs',
  // A JSON constraint comes from response_format; a GBNF grammar's field is `grammar` on every route.
  constraint: 'response_format',
};

const ENDPOINT_FOR_TYPE: Record<ModelType, string> = {
  chat: '/v1/chat/completions',
  completion: '/v1/completions',
  embedding: '/v1/embeddings',
  rerank: '/v1/rerank',
};

/** A part of a chat message (contract's chatPartField): part j of the engine's message is the request's `content[j]`. */
const CHAT_PART_FIELD = /^messages\[(\d+)\]\.parts\[(\d+)\]$/;

/** The wire name of an internal field; a name with no entry is already the wire's (`suffix`, `grammar`). */
function wireName(field: string | undefined, names: WireNames): string | undefined {
  if (field === undefined) return undefined;
  const part = CHAT_PART_FIELD.exec(field);
  if (part) {
    const chatName = `messages[${part[1]}].content[${part[2]}]`;
    return names[chatName] ?? chatName;
  }
  return names[field] ?? COMMON_WIRE_NAMES[field] ?? field;
}

function contextLengthMessage(error: ContextLengthError, names: WireNames): string {
  const { contextLength, promptTokens, requestedTokens } = error;
  if (requestedTokens === undefined) {
    return `This model's maximum context length is ${contextLength} tokens. However, your prompt has ${promptTokens} tokens, which leaves no room for a completion. Please reduce the prompt.`;
  }
  return `This model's maximum context length is ${contextLength} tokens. However, you requested ${promptTokens + requestedTokens} tokens (${promptTokens} in the prompt, ${requestedTokens} for the completion). Please reduce the prompt or ${wireName('maxTokens', names)}.`;
}

/**
 * A refusal's message in the route's words: an engine names the chat field it refuses
 * (`reasoning_effort`), which another route spells otherwise (`thinking` on /v1/messages). Only a
 * field name that cannot be an ordinary word (an underscore, a dot, a bracket) is replaced.
 */
function inWireWords(message: string, field: string | undefined, param: string | null): string {
  if (field === undefined || param === null || field === param || !/[_.[]/.test(field)) return message;
  return message.replaceAll(field, param);
}

function fromDomainError(error: DomainError, names: WireNames): GatewayError {
  const param = wireName(error.field, names) ?? null;
  const message = inWireWords(error.message, error.field, param);
  if (error instanceof UnsupportedFeatureError) return errors.invalidRequest(message, param, 'unsupported_parameter');
  // The same code as the wire's own image checks: to the client, both are a bad image.
  if (error instanceof InvalidImageError) return errors.invalidRequest(message, param, 'invalid_image');
  if (error instanceof InvalidInputError) return errors.invalidRequest(message, param, 'invalid_input');
  if (error instanceof InputTooLongError) return errors.invalidRequest(error.message, param ?? wireName('input', names) ?? null, 'context_length_exceeded');
  // The prompt is what has to shrink, whichever number was asked for.
  if (error instanceof ContextLengthError)
    return errors.invalidRequest(contextLengthMessage(error, names), wireName('prompt', names) ?? null, 'context_length_exceeded');
  if (error instanceof TokenTimeoutError) return errors.generationTimeout(`Generation stopped: ${error.message}.`);
  if (error instanceof EngineUnavailableError) return errors.unavailable(error.message, error.retryAfterMs, 'engine_unavailable');
  if (error instanceof GenerationTimeoutError) return errors.generationTimeout(error.message);
  if (error instanceof QueueFullError) return errors.rateLimited(error.message, error.retryAfterMs, 'queue_full');
  if (error instanceof QueueTimeoutError) return errors.unavailable(error.message, error.retryAfterMs, 'queue_timeout');
  if (error instanceof ModelNotFoundError) return errors.modelNotFound(error.model);
  if (error instanceof ModelNotPermittedError) return errors.permissionDenied(error.message);
  if (error instanceof ModelTypeMismatchError)
    return errors.invalidRequest(`${error.message}; use ${ENDPOINT_FOR_TYPE[error.type]}.`, 'model', 'model_type_mismatch');
  if (error instanceof ModelCapabilityError) return errors.invalidRequest(error.message, 'model', 'model_type_mismatch');
  if (error instanceof ModelNotNamedError) return errors.invalidRequest(error.message, 'model', 'missing_required_parameter');
  if (error instanceof ModelLoadingError) return errors.unavailable(error.message, error.retryAfterMs, 'model_loading');
  if (error instanceof ModelUnloadingError) return errors.unavailable(error.message, error.retryAfterMs, 'model_unloading');
  if (error instanceof ModelUnavailableError) return errors.unavailable(error.message, error.retryAfterMs, 'model_unavailable');
  // Why (an address, a file) is in the store's log and in /health for admin keys, not here.
  if (error instanceof ResponseStoreUnavailableError) return errors.unavailable(error.message, error.retryAfterMs, 'response_store_unavailable');
  return errors.internal(error);
}

/**
 * What a client should see for `error`. `names` spells the request's fields as the client sent
 * them (chat's prompt is `messages`; its limit `max_completion_tokens` when that is what was set).
 */
export function toGatewayError(error: unknown, names: WireNames = {}): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof DomainError) return fromDomainError(error, names);
  return errors.internal(error);
}

/** `field` spelled as the request spells it: the longest name in `names` that is `field` or a field above it (`tools[1].function` for `tools[1].function.name`). */
function renamedField(field: string, names: WireNames): string | undefined {
  let best: string | undefined;
  for (const name of Object.keys(names))
    if ((field === name || field.startsWith(`${name}.`) || field.startsWith(`${name}[`)) && name.length > (best?.length ?? -1)) best = name;
  return best === undefined ? undefined : names[best] + field.slice(best.length);
}

/** A 400 about a field of a translated chat request (chat's checks name chat's fields), naming the field the client sent instead. */
function renamedRequestError(error: GatewayError, names: WireNames): GatewayError {
  const field = error.param === null ? undefined : renamedField(error.param, names);
  if (error.status !== 400 || field === undefined || field === error.param) return error;
  return errors.invalidRequest(error.message.replaceAll(`'${error.param}'`, `'${field}'`), field, error.code);
}

export interface WireNameOptions {
  /**
   * The route translated its request into a chat request (the agent APIs): the chat pipeline's own
   * 400s name chat's fields (`tools[1].function.name`, `response_format`), and are given the
   * route's names too.
   */
  translated?: boolean;
}

/** Runs a route's work and gives any failure its wire form with the request's own field names. */
export async function withWireNames<T>(names: WireNames, work: () => Promise<T>, { translated = false }: WireNameOptions = {}): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError) throw toGatewayError(error, names);
    throw translated && error instanceof GatewayError ? renamedRequestError(error, names) : error;
  }
}
