// Checks shared by the chat and text-completion suites: streams read whole, the finish reason of a
// streamed choice, and the fields every generation response carries.
import assert from 'node:assert/strict';
import type OpenAI from 'openai';

/** Reads a stream to its end. */
export async function collect<Chunk>(stream: AsyncIterable<Chunk>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The finish reason a stream gave choice `index`, null when none did. */
export function finishOf(chunks: Array<{ choices: Array<{ index: number; finish_reason: string | null }> }>, index = 0): string | null {
  return chunks.flatMap((chunk) => chunk.choices).find((choice) => choice.index === index && choice.finish_reason)?.finish_reason ?? null;
}

export function assertCreated(created: number): void {
  assert.ok(Number.isInteger(created), `created ${created} is whole seconds`);
  assert.ok(Math.abs(created - Date.now() / 1000) < 600, `created ${created} is about now`);
}

/** Whole positive counts, at most `maxTokens` generated, and a total that is their sum. */
export function assertUsage(usage: OpenAI.CompletionUsage | null | undefined, maxTokens: number): OpenAI.CompletionUsage {
  assert.ok(usage, 'usage is present');
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0, `prompt_tokens ${usage.prompt_tokens}`);
  assert.ok(
    Number.isInteger(usage.completion_tokens) && usage.completion_tokens > 0 && usage.completion_tokens <= maxTokens,
    `completion_tokens ${usage.completion_tokens}`,
  );
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  return usage;
}

/**
 * The counts a request is charged for, without `prompt_tokens_details`: a repeated request finds
 * its prompt cached where the first did not, so only these are the same between the two.
 */
export function billedUsage(
  usage: OpenAI.CompletionUsage | null | undefined,
): Pick<OpenAI.CompletionUsage, 'prompt_tokens' | 'completion_tokens' | 'total_tokens'> {
  assert.ok(usage, 'usage is present');
  return { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens };
}
