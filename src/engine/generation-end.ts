// What every generating engine does the same way at a generation's end: the closing events (its
// text went out as it came), and the refusal of a prompt that leaves no room for one token.
import type { GenerationOptions, GenerationResult } from './contract.js';
import { InputTooLongError } from './errors.js';

/** Fails before any work when the prompt leaves no room for a single generated token. */
export function assertPromptFits(promptLength: number, contextSize: number): void {
  if (promptLength >= contextSize) {
    throw new InputTooLongError(
      `the prompt is ${promptLength} tokens long, but this model's context holds ${contextSize} tokens (prompt and completion together)`,
      'prompt',
    );
  }
}

/** The closing events of a generation (logprobs, finish, usage), then its result. */
export async function reportEnd(options: GenerationOptions, result: GenerationResult): Promise<GenerationResult> {
  if (result.logprobs !== undefined) await options.onEvent?.({ type: 'tokens', logprobs: result.logprobs });
  await options.onEvent?.({ type: 'finish', reason: result.finishReason });
  await options.onEvent?.({
    type: 'usage',
    promptTokens: result.promptTokens,
    completionTokens: result.completionTokens,
    cachedPromptTokens: result.cachedPromptTokens,
  });
  return result;
}
