// Why a model cannot take a request, in the registry's terms: the model a name resolves to, and the
// state it is in. src/api/error-mapping.ts turns them into the client's status and Retry-After.
import { DomainError } from '../engine/errors.js';
import type { ModelType } from '../engine/contract.js';

/** No configured model has this name or alias (or the key may not know it exists): a 404. */
export class ModelNotFoundError extends DomainError {
  constructor(readonly model: string) {
    super(`The model '${model}' does not exist or you do not have access to it.`, 'model');
  }
}

/** The key may not use this model: a 403. */
export class ModelNotPermittedError extends DomainError {
  constructor(readonly model: string) {
    super(`This API key may not use model '${model}'.`, 'model');
  }
}

/** The model exists but is of a type that cannot serve the call: a 400 naming the endpoint to use. */
export class ModelTypeMismatchError extends DomainError {
  constructor(
    readonly model: string,
    readonly type: ModelType,
    readonly endpoint: string,
  ) {
    super(`Model '${model}' is a${type === 'embedding' ? 'n' : ''} ${type} model and cannot serve ${endpoint}`, 'model');
  }
}

/** No model was named and not exactly one could serve the call: a 400. */
export class ModelNotNamedError extends DomainError {
  constructor(
    readonly endpoint: string,
    readonly candidates: readonly string[],
  ) {
    super(
      `Missing required parameter: 'model'. It may be omitted only when exactly one model can serve ${endpoint}; configured: ${candidates.join(', ') || 'none'}.`,
      'model',
    );
  }
}

/** The model is loading at startup (a request does not wait for that): a 503 `model_loading`. */
export class ModelLoadingError extends DomainError {
  constructor(
    readonly model: string,
    readonly retryAfterMs: number,
  ) {
    super(`Model '${model}' is loading; retry shortly.`);
  }
}

/** The model's instance is being unloaded: a 503 `model_unloading`. */
export class ModelUnloadingError extends DomainError {
  constructor(
    readonly model: string,
    /** By then a reload's new instance is usually ready. */
    readonly retryAfterMs = 5_000,
  ) {
    super(`Model '${model}' is being unloaded; retry shortly.`);
  }
}

/** The model failed to load or its files are missing: a 503 `model_unavailable` (the summary holds no path). */
export class ModelUnavailableError extends DomainError {
  constructor(
    readonly model: string,
    readonly summary: string,
    readonly retryAfterMs: number,
  ) {
    super(`Model '${model}' is unavailable: ${summary}.`);
  }
}

/** The model's engine lacks the capability a call needs (a chat model without a chat template): a 400. */
export class ModelCapabilityError extends DomainError {
  constructor(
    readonly model: string,
    readonly capability: 'chat' | 'complete text' | 'embed' | 'rerank',
  ) {
    super(`Model '${model}' cannot ${capability}.`, 'model');
  }
}
