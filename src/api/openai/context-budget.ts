// How many tokens a request may generate, and the 400 OpenAI gives when a prompt plus max_tokens
// does not fit the model's context.
import { errors } from '../../errors.js';

export function resolveMaxTokens(options: { promptTokens: number; requested?: number; defaultMaxTokens?: number; contextLength?: number; param: string; promptParam: string }): number {
  const { promptTokens, requested, defaultMaxTokens, contextLength, param, promptParam } = options;
  if (contextLength === undefined) return requested ?? defaultMaxTokens ?? 256;
  const left = contextLength - promptTokens;
  if (requested !== undefined) {
    if (promptTokens + requested > contextLength) {
      throw errors.invalidRequest(
        `This model's maximum context length is ${contextLength} tokens. However, you requested ${promptTokens + requested} tokens (${promptTokens} in the prompt, ${requested} for the completion). Please reduce the prompt or ${param}.`,
        promptParam,
        'context_length_exceeded',
      );
    }
    return requested;
  }
  if (left < 1) {
    throw errors.invalidRequest(
      `This model's maximum context length is ${contextLength} tokens. However, your prompt has ${promptTokens} tokens, which leaves no room for a completion. Please reduce the prompt.`,
      promptParam,
      'context_length_exceeded',
    );
  }
  return Math.min(left, defaultMaxTokens ?? left);
}
