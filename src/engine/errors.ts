// What engines throw: domain errors with internal field names. One place (src/api/engine-errors.ts)
// turns them into statuses and the OpenAI envelope.

/** Thrown by an adapter for a request feature its engine cannot honour (becomes a 400). */
export class UnsupportedFeatureError extends Error {
  constructor(message: string, readonly param?: string) {
    super(message);
    this.name = 'UnsupportedFeatureError';
  }
}

/** Thrown by an adapter for an input it cannot take (a token id outside the vocabulary, an empty token array): a 400. */
export class InvalidInputError extends Error {
  constructor(message: string, readonly param?: string) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

/** Thrown by an adapter when an input is too long for the model and truncation is off (a 400). */
export class InputTooLongError extends Error {
  constructor(message: string, readonly param?: string) {
    super(message);
    this.name = 'InputTooLongError';
  }
}

/**
 * Thrown by an adapter when one generated token took longer than the model's per-token limit
 * (`max_token_seconds`): a 504 `generation_timeout`, like a generation past `max_generation_seconds`.
 */
export class TokenTimeoutError extends Error {
  constructor(readonly tokenSeconds: number, readonly limitSeconds: number) {
    super(`one token took ${tokenSeconds.toFixed(1)} s to generate, longer than this model's limit of ${limitSeconds} s per token (max_token_seconds)`);
    this.name = 'TokenTimeoutError';
  }
}
