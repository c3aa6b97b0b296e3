// Engine results → Anthropic's Message and its stream events, the one place these shapes are
// written. A reply is a list of content blocks: its thought (`thinking`), its text, then a
// `tool_use` block per call. Streamed, each block is opened (content_block_start), grown
// (content_block_delta: text_delta, thinking_delta, input_json_delta) and closed
// (content_block_stop) in turn, between message_start (+ a ping) and message_delta + message_stop.
// Every frame is a named event: Anthropic's SDK drops frames without an `event:` line.
import { randomBytes } from 'node:crypto';
import type { GenerationResult, ToolCall } from '../engine/contract.js';
import type { GatewayError } from '../errors.js';
import { usageOf, type ChoiceOutput, type GenerationWire, type StreamFrame, type Usage } from '../openai/generation-wire.js';
import { anthropicErrorBody } from './error-body.js';

type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use';

function stopReasonOf(result: GenerationResult): StopReason {
  if (result.finishReason === 'length') return 'max_tokens';
  if (result.finishReason === 'tool_calls') return 'tool_use';
  return result.stopSequence !== undefined ? 'stop_sequence' : 'end_turn';
}

/**
 * Anthropic's usage: `input_tokens` are the prompt tokens not read from a cache, the cached ones are
 * `cache_read_input_tokens` (their sum is the prompt, what count_tokens says). Nothing is written
 * to a cache on request here, so `cache_creation_input_tokens` is 0. The fields of services this
 * server does not run are null, as the SDK's MessageDeltaUsage declares them.
 */
function deltaUsageBody(usage: Usage) {
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    input_tokens: usage.prompt_tokens - cached,
    output_tokens: usage.completion_tokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens_details: null,
    server_tool_use: null,
  };
}

/** The Message's usage: the delta's, plus the fields only the SDK's Usage declares (one tier of capacity: `standard`). */
function usageBody(usage: Usage) {
  return { ...deltaUsageBody(usage), cache_creation: null, inference_geo: null, service_tier: 'standard', speed: null };
}

/** A Message's fields of services this server does not run (code-execution containers, refusals, diagnostics). */
const NO_SERVICES = { container: null, stop_details: null, diagnostics: null };

/** Anthropic's tool ids begin `toolu_`; the engines' `call_…` ids are renamed, others kept whole. */
function toolUseId(id: string): string {
  return id.startsWith('toolu_') ? id : `toolu_${id.replace(/^call_/, '')}`;
}

/**
 * A call's input as the JSON object Anthropic's Message holds. The GGUF engines constrain calls to
 * JSON objects; arguments a remote upstream made that are not one become `{}` rather than a body
 * the client's SDK could not read.
 */
function inputOf(call: ToolCall): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(call.arguments);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Every call here is the client's own tool, called by the model directly. */
const DIRECT = { type: 'direct' };

function contentOf(text: string, result: GenerationResult, omitThinking: boolean): unknown[] {
  const calls = result.toolCalls ?? [];
  return [
    ...(result.reasoning !== undefined && result.reasoning !== '' ? [{ type: 'thinking', thinking: omitThinking ? '' : result.reasoning, signature: '' }] : []),
    ...(text !== '' || calls.length === 0 ? [{ type: 'text', text, citations: null }] : []),
    ...calls.map((call) => ({ type: 'tool_use', id: toolUseId(call.id), name: call.name, input: inputOf(call), caller: DIRECT })),
  ];
}

type BlockKind = 'thinking' | 'text' | 'tool_use';

export interface MessagesWireOptions {
  /** `thinking.display: "omitted"`: the thought is generated but its blocks come empty. */
  omitThinking?: boolean;
}

/**
 * Streamed, each block is closed when the next opens, as Anthropic streams them (the SDK's stream
 * events read the last block). An argument fragment goes to its own call's block, by callIndex:
 * after text that followed the call, or when an upstream interleaves the fragments of several
 * calls, it still reaches the right block (the SDK accumulates deltas by index), never the wrong one.
 */
export function messagesWire(model: string, promptTokens: number, options: MessagesWireOptions = {}): GenerationWire {
  const id = `msg_${randomBytes(12).toString('hex')}`;
  const omitThinking = options.omitThinking === true;
  const event = (name: string, data: Record<string, unknown>): StreamFrame => ({ event: name, data: { type: name, ...data } });
  // The block being streamed (one reply: Messages has no `n`).
  let open: { index: number; kind: BlockKind } | undefined;
  // Each call's block, by the call's index.
  const callBlocks = new Map<number, number>();
  let blocks = 0;
  let textBlocks = 0;
  const close = (): StreamFrame[] => {
    if (open === undefined) return [];
    const frames = [event('content_block_stop', { index: open.index })];
    open = undefined;
    return frames;
  };
  const start = (kind: BlockKind, block: Record<string, unknown>): { index: number; frames: StreamFrame[] } => {
    const frames = close();
    const index = blocks++;
    if (kind === 'text') textBlocks++;
    open = { index, kind };
    frames.push(event('content_block_start', { index, content_block: block }));
    return { index, frames };
  };
  /** The frames of a delta of `kind`, opening a block of that kind first when another is open. */
  const delta = (kind: 'thinking' | 'text', body: Record<string, unknown> | undefined, block: Record<string, unknown>): StreamFrame[] => {
    const frames = open?.kind === kind ? [] : start(kind, block).frames;
    if (body !== undefined) frames.push(event('content_block_delta', { index: open!.index, delta: body }));
    return frames;
  };
  return {
    id,
    streamStart: () => [
      event('message_start', {
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          ...NO_SERVICES,
          usage: usageBody(usageOf(promptTokens, 0)),
        },
      }),
      event('ping', {}),
    ],
    streamDelta: (_index, text) => (text === '' ? [] : delta('text', { type: 'text_delta', text }, { type: 'text', text: '', citations: null })),
    streamReasoning: (_index, text) =>
      text === ''
        ? []
        : delta('thinking', omitThinking ? undefined : { type: 'thinking_delta', thinking: text }, { type: 'thinking', thinking: '', signature: '' }),
    streamToolCallStart: (_index, call) => {
      const { index, frames } = start('tool_use', { type: 'tool_use', id: toolUseId(call.id), name: call.name, input: {}, caller: DIRECT });
      callBlocks.set(call.index, index);
      return frames;
    },
    streamToolCallArguments: (_index, callIndex, text) => {
      const index = callBlocks.get(callIndex);
      return text === '' || index === undefined ? [] : [event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: text } })];
    },
    // A reply with neither text nor calls still has its (empty) text block, as the Message body does.
    streamFinish: (_index, { result }) =>
      textBlocks === 0 && (result.toolCalls ?? []).length === 0 ? [...start('text', { type: 'text', text: '', citations: null }).frames, ...close()] : close(),
    streamEnd: (choices, usage) => {
      const result = choices[0].result;
      return [
        event('message_delta', {
          delta: { stop_reason: stopReasonOf(result), stop_sequence: result.stopSequence ?? null, stop_details: null, container: null },
          usage: deltaUsageBody(usage),
        }),
        event('message_stop', {}),
      ];
    },
    endsWithDone: false,
    streamError: (error: GatewayError) => [{ event: 'error', data: anthropicErrorBody(error) }],
    response: (choices: ChoiceOutput[], usage: Usage) => {
      const { text, result } = choices[0];
      return {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: contentOf(text, result, omitThinking),
        stop_reason: stopReasonOf(result),
        stop_sequence: result.stopSequence ?? null,
        ...NO_SERVICES,
        usage: usageBody(usage),
      };
    },
  };
}
