// How many tokens a request may generate: what it asked for, or the model's default, within the
// context its prompt leaves.
import { DomainError } from '../engine/errors.js';

/**
 * The prompt and the tokens asked for do not fit the model's context (a 400
 * `context_length_exceeded`). `requestedTokens` is undefined when the prompt alone leaves no room.
 */
export class ContextLengthError extends DomainError {
  constructor(
    readonly contextLength: number,
    readonly promptTokens: number,
    readonly requestedTokens?: number,
  ) {
    super(
      requestedTokens === undefined
        ? `the prompt has ${promptTokens} tokens, which leaves no room for a completion in a context of ${contextLength}`
        : `${promptTokens} prompt tokens and ${requestedTokens} for the completion do not fit a context of ${contextLength}`,
      requestedTokens === undefined ? 'prompt' : 'maxTokens',
    );
  }
}

export function resolveMaxTokens(options: { promptTokens: number; requested?: number; defaultMaxTokens?: number; contextLength?: number }): number {
  const { promptTokens, requested, defaultMaxTokens, contextLength } = options;
  if (contextLength === undefined) return requested ?? defaultMaxTokens ?? 256;
  if (requested !== undefined) {
    if (promptTokens + requested > contextLength) throw new ContextLengthError(contextLength, promptTokens, requested);
    return requested;
  }
  const left = contextLength - promptTokens;
  if (left < 1) throw new ContextLengthError(contextLength, promptTokens);
  return Math.min(left, defaultMaxTokens ?? left);
}
