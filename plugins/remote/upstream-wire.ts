// Engine-level calls → OpenAI request bodies for an upstream, and upstream responses → engine
// results and errors. Only fields a request set are sent: an upstream that is OpenAI itself
// rejects fields it does not know (top_k, min_p, repeat_penalty, grammar).
import type { ChatMessage, ChatTools, FinishReason, GenerationOptions, TokenLogprob } from '../../src/engine/contract.js';
import { GatewayError, type ErrorType } from '../../src/errors.js';
import { toolsBody } from '../../src/upstream/chat-messages-body.js';
import { effortCovering } from '../../src/backends/thought-segments.js';

/** Token counts for rate limits before a run, where no tokenizer is at hand: about four characters a token. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export function estimateChatTokens(messages: readonly ChatMessage[], tools?: ChatTools): number {
  // A few tokens per message for the template's role markers; the tools as the template lists them, about their JSON.
  const listed = tools === undefined ? 0 : estimateTokens(JSON.stringify(toolsBody(tools.definitions)));
  return messages.reduce((sum, message) => sum + estimateTokens(message.content) + estimateTokens(JSON.stringify(message.toolCalls ?? '')) + 4, listed);
}

/** A chat request's tool fields, as the client gave them (checked on the wire): the upstream constrains the calls. */
export function toolFields(tools: ChatTools | undefined): Record<string, unknown> {
  if (tools === undefined) return {};
  const { choice } = tools;
  return {
    tools: toolsBody(tools.definitions),
    tool_choice: choice.kind === 'function' ? { type: 'function', function: { name: choice.name } } : choice.kind,
    parallel_tool_calls: tools.parallel,
  };
}

/** The sampling fields of a chat or text completion body. */
export function generationFields(options: GenerationOptions, kind: 'chat' | 'text'): Record<string, unknown> {
  const body: Record<string, unknown> = { max_tokens: options.maxTokens, temperature: options.temperature };
  if (options.topP !== undefined) body.top_p = options.topP;
  if (options.topK !== undefined) body.top_k = options.topK;
  if (options.minP !== undefined) body.min_p = options.minP;
  if (options.seed !== undefined) body.seed = options.seed;
  if (options.stop.length > 0) body.stop = options.stop;
  if (options.presencePenalty !== undefined) body.presence_penalty = options.presencePenalty;
  if (options.frequencyPenalty !== undefined) body.frequency_penalty = options.frequencyPenalty;
  if (options.repeatPenalty !== undefined) body.repeat_penalty = options.repeatPenalty;
  if (options.logitBias !== undefined) body.logit_bias = Object.fromEntries(Object.entries(options.logitBias).map(([token, bias]) => [String(token), bias]));
  const constraint = options.constraint;
  if (constraint?.kind === 'json_object') body.response_format = { type: 'json_object' };
  else if (constraint?.kind === 'json_schema') body.response_format = { type: 'json_schema', json_schema: { name: 'response', schema: constraint.schema } };
  else if (constraint?.kind === 'gbnf') body.grammar = constraint.grammar;
  // An upstream takes an effort, not a token budget: an exact budget is sent as the effort that covers it.
  const effort = options.thinkingTokens !== undefined ? effortCovering(options.thinkingTokens) : options.reasoningEffort;
  if (effort !== undefined && kind === 'chat') body.reasoning_effort = effort;
  if (options.topLogprobs !== undefined) {
    if (kind === 'chat') {
      body.logprobs = true;
      body.top_logprobs = options.topLogprobs;
    } else body.logprobs = options.topLogprobs;
  }
  return body;
}

// The messages body is shared with the llama-server engine (image parts go on as they came).
export { chatMessagesBody } from '../../src/upstream/chat-messages-body.js';

/** `tool_calls` is the engine's word for a reply that made calls, whatever the upstream said (OpenAI says "stop" after a named choice's call). */
export function finishReasonOf(value: unknown, madeCalls = false): FinishReason {
  return value === 'length' ? 'length' : madeCalls ? 'tool_calls' : 'stop';
}

/** Logprobs of one chat chunk or response choice (`logprobs.content`). */
export function chatLogprobsOf(logprobs: unknown): TokenLogprob[] {
  const content = (logprobs as { content?: unknown } | null | undefined)?.content;
  if (!Array.isArray(content)) return [];
  return content.map((entry: { token?: string; logprob?: number; top_logprobs?: Array<{ token?: string; logprob?: number }> }) => ({
    token: String(entry.token ?? ''),
    logprob: Number(entry.logprob ?? 0),
    topLogprobs: (entry.top_logprobs ?? []).map((top) => ({ token: String(top.token ?? ''), logprob: Number(top.logprob ?? 0) })),
  }));
}

/** Logprobs of one legacy completion chunk or choice (`tokens`, `token_logprobs`, `top_logprobs`). */
export function textLogprobsOf(logprobs: unknown): TokenLogprob[] {
  const value = logprobs as { tokens?: string[]; token_logprobs?: number[]; top_logprobs?: Array<Record<string, number> | null> } | null | undefined;
  if (!value || !Array.isArray(value.tokens)) return [];
  return value.tokens.map((token, index) => ({
    token,
    logprob: Number(value.token_logprobs?.[index] ?? 0),
    topLogprobs: Object.entries(value.top_logprobs?.[index] ?? {}).map(([top, logprob]) => ({ token: top, logprob })),
  }));
}

const ERROR_TYPES: Record<number, ErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
};

/** An upstream's OpenAI error envelope (or any body) as the GatewayError a client should see. */
export function gatewayErrorFromUpstream(status: number, body: unknown, headers?: Headers): GatewayError {
  const error = (body as { error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } } | undefined)?.error;
  const message = typeof error?.message === 'string' ? error.message : `The upstream answered with status ${status}.`;
  const known = [
    'invalid_request_error',
    'authentication_error',
    'permission_error',
    'not_found_error',
    'rate_limit_error',
    'service_unavailable_error',
    'api_error',
  ];
  const type = (
    typeof error?.type === 'string' && known.includes(error.type)
      ? error.type
      : (ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'))
  ) as ErrorType;
  const passHeaders: Record<string, string> = {};
  for (const name of ['retry-after', 'retry-after-ms']) {
    const value = headers?.get(name);
    if (value) passHeaders[name] = value;
  }
  return new GatewayError(message, {
    status,
    type,
    code: typeof error?.code === 'string' ? error.code : null,
    param: typeof error?.param === 'string' ? error.param : null,
    headers: passHeaders,
  });
}

/** Little-endian float32 in base64 (encoding_format "base64"), or an array of numbers. */
export function vectorOf(embedding: unknown): Float32Array {
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    const vector = new Float32Array(bytes.length / 4);
    for (let index = 0; index < vector.length; index++) vector[index] = bytes.readFloatLE(index * 4);
    return vector;
  }
  if (Array.isArray(embedding)) return Float32Array.from(embedding as number[]);
  throw new Error('the upstream sent an embedding that is neither an array nor base64');
}

/** Spreads an exact total over inputs in proportion to their estimates (the total stays exact). */
export function spreadTokens(total: number, estimates: readonly number[]): number[] {
  const sum = estimates.reduce((left, right) => left + right, 0);
  if (sum === 0 || estimates.length === 0) return estimates.map(() => 0);
  const counts = estimates.map((estimate) => Math.floor((total * estimate) / sum));
  counts[counts.length - 1] += total - counts.reduce((left, right) => left + right, 0);
  return counts;
}
