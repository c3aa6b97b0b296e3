// What engines throw: domain errors with internal field names (the names of GenerationOptions and
// of the capability's arguments: `prompt`, `suffix`, `logitBias`, `input`). One place
// (src/api/error-mapping.ts) turns them into statuses, the OpenAI envelope and wire names.

/**
 * The family every layer below the routes throws (engines, registry, scheduler, model calls): it
 * says what went wrong in the gateway's own terms, never as an HTTP status.
 */
export abstract class DomainError extends Error {
  /** The internal name of the option or input at fault, when there is one. */
  readonly field?: string;

  constructor(message: string, field?: string) {
    super(message);
    this.name = new.target.name;
    if (field !== undefined) this.field = field;
  }
}

/** Thrown by an adapter for a request feature its engine cannot honour (becomes a 400). */
export class UnsupportedFeatureError extends DomainError {}

/** Thrown by an adapter for an input it cannot take (a token id outside the vocabulary, an empty token array): a 400. */
export class InvalidInputError extends DomainError {}

/** Thrown by an engine whose decoder cannot read an image that passed the wire checks (a truncated or corrupt file): a 400 `invalid_image`. */
export class InvalidImageError extends InvalidInputError {}

/** Thrown by an adapter when an input is too long for the model and truncation is off (a 400). */
export class InputTooLongError extends DomainError {}

/**
 * Thrown by an adapter when one generated token took longer than the model's per-token limit
 * (`max_token_seconds`): a 504 `generation_timeout`, like a generation past `max_generation_seconds`.
 */
export class TokenTimeoutError extends DomainError {
  constructor(
    readonly tokenSeconds: number,
    readonly limitSeconds: number,
  ) {
    super(`one token took ${tokenSeconds.toFixed(1)} s to generate, longer than this model's limit of ${limitSeconds} s per token (max_token_seconds)`);
  }
}

/**
 * Thrown by an engine whose process is not serving: it crashed mid-request, or is restarting (a
 * 503 `engine_unavailable` with Retry-After, or an error frame in a stream already under way).
 */
export class EngineUnavailableError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}
