// Engine results → OpenAI response bodies and stream chunks, for chat completions and for
// (legacy) text completions. The one place these shapes are written.
import { randomBytes } from 'node:crypto';
import type { FinishReason, GenerationResult, TokenLogprob } from '../engine/contract.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** How many of `prompt_tokens` the engine found already evaluated (its prompt cache); absent when the engine did not say. */
  prompt_tokens_details?: { cached_tokens: number };
}

export function usageOf(promptTokens: number, completionTokens: number, cachedPromptTokens?: number): Usage {
  const usage: Usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  if (cachedPromptTokens !== undefined) usage.prompt_tokens_details = { cached_tokens: Math.min(cachedPromptTokens, promptTokens) };
  return usage;
}

/** What a route needs to answer in one wire format, streamed or not. */
export interface GenerationWire {
  readonly id: string;
  /** The first chunk of a choice (chat sends the role), or undefined. */
  streamStart(index: number): unknown;
  streamDelta(index: number, text: string): unknown;
  streamFinish(index: number, finishReason: FinishReason, logprobs: TokenLogprob[] | undefined): unknown;
  usageChunk(usage: Usage): unknown;
  response(choices: Array<{ index: number; text: string; result: GenerationResult }>, usage: Usage): unknown;
}

function bytesOf(token: string): number[] {
  return [...Buffer.from(token, 'utf8')];
}

function chatLogprobs(logprobs: TokenLogprob[] | undefined) {
  if (!logprobs) return null;
  return {
    content: logprobs.map((entry) => ({
      token: entry.token,
      logprob: entry.logprob,
      bytes: bytesOf(entry.token),
      top_logprobs: entry.topLogprobs.map((top) => ({ token: top.token, logprob: top.logprob, bytes: bytesOf(top.token) })),
    })),
    refusal: null,
  };
}

function completionLogprobs(logprobs: TokenLogprob[] | undefined, textOffsetStart: number) {
  if (!logprobs) return null;
  let offset = textOffsetStart;
  const textOffset = logprobs.map((entry) => {
    const at = offset;
    offset += entry.token.length;
    return at;
  });
  return {
    tokens: logprobs.map((entry) => entry.token),
    token_logprobs: logprobs.map((entry) => entry.logprob),
    top_logprobs: logprobs.map((entry) => Object.fromEntries(entry.topLogprobs.map((top) => [top.token, top.logprob]))),
    text_offset: textOffset,
  };
}

function newId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

export function chatCompletionWire(model: string, includeUsageInChunks: boolean): GenerationWire {
  const id = newId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  // With include_usage, OpenAI puts "usage": null on every chunk before the usage chunk.
  const usageField = includeUsageInChunks ? { usage: null } : {};
  const chunk = (choices: unknown[]) => ({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, ...usageField });
  return {
    id,
    streamStart: (index) => chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]),
    streamDelta: (index, text) => chunk([{ index, delta: { content: text }, logprobs: null, finish_reason: null }]),
    streamFinish: (index, finishReason, logprobs) => chunk([{ index, delta: {}, logprobs: chatLogprobs(logprobs), finish_reason: finishReason }]),
    usageChunk: (usage) => ({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [], usage }),
    response: (choices, usage) => ({
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: null,
      choices: choices.map(({ index, text, result }) => ({
        index,
        message: { role: 'assistant', content: text, refusal: null },
        logprobs: chatLogprobs(result.logprobs),
        finish_reason: result.finishReason,
      })),
      usage,
    }),
  };
}

export function textCompletionWire(model: string, includeUsageInChunks: boolean, echoOffsets: (index: number) => number): GenerationWire {
  const id = newId('cmpl');
  const created = Math.floor(Date.now() / 1000);
  const usageField = includeUsageInChunks ? { usage: null } : {};
  const chunk = (index: number, text: string, finishReason: FinishReason | null, logprobs: unknown = null) => ({
    id,
    object: 'text_completion',
    created,
    model,
    system_fingerprint: null,
    choices: [{ index, text, logprobs, finish_reason: finishReason }],
    ...usageField,
  });
  return {
    id,
    streamStart: () => undefined,
    streamDelta: (index, text) => chunk(index, text, null),
    streamFinish: (index, finishReason, logprobs) => chunk(index, '', finishReason, completionLogprobs(logprobs, echoOffsets(index))),
    usageChunk: (usage) => ({ id, object: 'text_completion', created, model, system_fingerprint: null, choices: [], usage }),
    response: (choices, usage) => ({
      id,
      object: 'text_completion',
      created,
      model,
      system_fingerprint: null,
      choices: choices.map(({ index, text, result }) => ({
        index,
        text,
        logprobs: completionLogprobs(result.logprobs, echoOffsets(index)),
        finish_reason: result.finishReason,
      })),
      usage,
    }),
  };
}
