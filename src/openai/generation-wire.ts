// Engine results → OpenAI response bodies and stream chunks, for chat completions and for
// (legacy) text completions. The one place these shapes are written.
import { randomBytes } from 'node:crypto';
import type { FinishReason, GenerationResult, TokenLogprob, ToolCall } from '../engine/contract.js';
import { toolCallsBody } from '../upstream/chat-messages-body.js';
import type { GatewayError } from '../errors.js';

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

/** One server-sent event: its data, and its name where the format names its events (Responses, Anthropic Messages). */
export interface StreamFrame {
  event?: string;
  data: unknown;
}

/** A choice as it ended: its index, its whole text (with an echoed prefix) and the engine's result. */
export interface ChoiceOutput {
  index: number;
  text: string;
  result: GenerationResult;
}

/**
 * What a route needs to answer in one wire format, streamed or not: the frames each engine event
 * becomes (none, one, or several: a Responses stream opens an output item before its first delta),
 * and the body of an answer that is not streamed.
 */
export interface GenerationWire {
  readonly id: string;
  /** The frames that open a choice (chat sends the role), before its first delta. */
  streamStart(index: number): StreamFrame[];
  streamDelta(index: number, text: string): StreamFrame[];
  /** The frames that open tool call `call.index` of choice `index` (its id, type and name, once). */
  streamToolCallStart(index: number, call: { index: number; id: string; name: string }): StreamFrame[];
  /** A fragment of the arguments of tool call `callIndex`. */
  streamToolCallArguments(index: number, callIndex: number, text: string): StreamFrame[];
  /** A fragment of the model's thought. */
  streamReasoning(index: number, text: string): StreamFrame[];
  /** The frames that close choice `index`, once it ended. */
  streamFinish(index: number, choice: ChoiceOutput): StreamFrame[];
  /** The frames after every choice ended (chat's usage chunk, Responses' response.completed). */
  streamEnd(choices: ChoiceOutput[], usage: Usage): StreamFrame[];
  /** Whether a stream that ended normally closes with `data: [DONE]` (OpenAI's chat and text completions). */
  readonly endsWithDone: boolean;
  /** The frames that report a failure after the stream's headers went out. */
  streamError(error: GatewayError): StreamFrame[];
  response(choices: ChoiceOutput[], usage: Usage): unknown;
}

/** OpenAI's chat and text completion streams: unnamed `data:` frames, an error as `{"error": …}`. */
const frame = (data: unknown): StreamFrame[] => [{ data }];

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

export interface ChatWireOptions {
  /**
   * The request used the legacy `functions` API: a call is `message.function_call` (and
   * `delta.function_call`), finish_reason "function_call".
   */
  legacyFunctions?: boolean;
}

/** The `message` of a chat completion choice: with calls, `content` is the text before them or null. */
function chatMessage(text: string, result: GenerationResult, legacyFunctions: boolean) {
  const calls: ToolCall[] = result.toolCalls ?? [];
  const reasoning = result.reasoning !== undefined && result.reasoning !== '' ? { reasoning_content: result.reasoning } : {};
  const message = { role: 'assistant', content: calls.length > 0 && text === '' ? null : text, refusal: null, ...reasoning };
  if (calls.length === 0) return message;
  if (legacyFunctions) return { ...message, function_call: { name: calls[0].name, arguments: calls[0].arguments } };
  return { ...message, tool_calls: toolCallsBody(calls) };
}

export function chatCompletionWire(model: string, includeUsageInChunks: boolean, options: ChatWireOptions = {}): GenerationWire {
  const id = newId('chatcmpl');
  const created = Math.floor(Date.now() / 1000);
  const legacy = options.legacyFunctions === true;
  const finishReasonOf = (reason: FinishReason) => (legacy && reason === 'tool_calls' ? 'function_call' : reason);
  // With include_usage, OpenAI puts "usage": null on every chunk before the usage chunk.
  const usageField = includeUsageInChunks ? { usage: null } : {};
  const chunk = (choices: unknown[]) => ({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices, ...usageField });
  const deltaChunk = (index: number, delta: unknown) => chunk([{ index, delta, logprobs: null, finish_reason: null }]);
  return {
    id,
    streamStart: (index) => frame(deltaChunk(index, { role: 'assistant', content: '' })),
    streamDelta: (index, text) => frame(deltaChunk(index, { content: text })),
    // OpenAI's shape: id, type and name once, on the call's first chunk, with arguments "" there.
    streamToolCallStart: (index, call) =>
      frame(
        deltaChunk(
          index,
          legacy
            ? { function_call: { name: call.name, arguments: '' } }
            : { tool_calls: [{ index: call.index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] },
        ),
      ),
    streamToolCallArguments: (index, callIndex, text) =>
      frame(deltaChunk(index, legacy ? { function_call: { arguments: text } } : { tool_calls: [{ index: callIndex, function: { arguments: text } }] })),
    streamReasoning: (index, text) => frame(deltaChunk(index, { reasoning_content: text })),
    streamFinish: (index, { result }) =>
      frame(chunk([{ index, delta: {}, logprobs: chatLogprobs(result.logprobs), finish_reason: finishReasonOf(result.finishReason) }])),
    streamEnd: (_choices, usage) =>
      includeUsageInChunks ? frame({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: null, choices: [], usage }) : [],
    endsWithDone: true,
    streamError: (error) => frame(error.toJSON()),
    response: (choices, usage) => ({
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: null,
      choices: choices.map(({ index, text, result }) => ({
        index,
        message: chatMessage(text, result, legacy),
        logprobs: chatLogprobs(result.logprobs),
        finish_reason: finishReasonOf(result.finishReason),
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
    streamStart: () => [],
    streamDelta: (index, text) => frame(chunk(index, text, null)),
    // A text completion has no tools and no thought: its engines send no such events.
    streamToolCallStart: () => [],
    streamToolCallArguments: () => [],
    streamReasoning: () => [],
    streamFinish: (index, { result }) => frame(chunk(index, '', result.finishReason, completionLogprobs(result.logprobs, echoOffsets(index)))),
    streamEnd: (_choices, usage) =>
      includeUsageInChunks ? frame({ id, object: 'text_completion', created, model, system_fingerprint: null, choices: [], usage }) : [],
    endsWithDone: true,
    streamError: (error) => frame(error.toJSON()),
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
