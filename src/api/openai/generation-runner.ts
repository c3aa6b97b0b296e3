// Runs the choices of a chat or text completion request through the model's handle and answers
// with one JSON body or an SSE stream: the formatter of the handle's events for both endpoints
// (the wire format decides the shapes). Admission is the handle's business.
import type { Context } from 'koa';
import type { GenerationEvent, GenerationOptions, GenerationResult, PreparedPrompt } from '../../engine/contract.js';
import type { GenerationRequest, ModelHandle } from '../../model-call/model-calls.js';
import { errors } from '../../errors.js';
import type { GenerationWire } from '../../openai/generation-wire.js';
import { usageOf } from '../../openai/generation-wire.js';
import { isAbortError, isShutdownAbort } from '../../http/client-abort.js';
import { SseStream } from '../../http/sse-stream.js';
import { StreamStart } from './stream-start.js';
import { toGatewayError, type WireNames } from '../error-mapping.js';
import type { Logger } from '../../logger.js';

export interface GenerationRun {
  handle: ModelHandle;
  /** Prompts the handle prepared; each gets `choicesPerPrompt` choices (index = prompt × n + choice). */
  prompts: PreparedPrompt[];
  choicesPerPrompt: number;
  /** Text a choice's output starts with (the prompt, for `echo`); default none. */
  prefixOf?: (index: number) => string;
  wire: GenerationWire;
  stream: boolean;
  includeUsage: boolean;
  /** Prompt tokens billed once per distinct prompt (n choices of one prompt share it). */
  promptTokens: number;
  /** The exact prompt tokens from the results, when `promptTokens` was an estimate (remote models). */
  exactPromptTokens?: (results: GenerationResult[]) => number;
  options: Omit<GenerationOptions, 'signal' | 'onEvent'>;
  signal: AbortSignal;
  /** How long a stream's client may read nothing before the stream is cut ([api] stream_stall_timeout). */
  streamStallTimeoutMs: number;
  logger: Logger;
  /** How the request spells the fields an error may name (see error-mapping.ts). */
  wireNames: WireNames;
}

/**
 * The prompt tokens the engine found cached, counted as prompt_tokens is: once per distinct prompt
 * (its n choices share it), the least any of its choices found, so that it never exceeds that
 * prompt's count and says what every choice reused. Undefined when an engine did not say (a remote
 * upstream that reports no prompt_tokens_details).
 */
function cachedPromptTokensOf(results: readonly GenerationResult[], choicesPerPrompt: number): number | undefined {
  let total = 0;
  for (let first = 0; first < results.length; first += choicesPerPrompt) {
    const counts = results.slice(first, first + choicesPerPrompt).map((result) => result.cachedPromptTokens);
    if (counts.some((count) => count === undefined)) return undefined;
    total += Math.min(...(counts as number[]));
  }
  return total;
}

/** The events that are output (what `deltaFrame` writes): the first of them is the time to first token. */
const OUTPUT_EVENTS: ReadonlySet<GenerationEvent['type']> = new Set(['text', 'reasoning', 'tool_call_start', 'tool_call_arguments']);

/** The stream frame of an output event (text, thought, tool call), or undefined for the others. */
function deltaFrame(wire: GenerationWire, index: number, event: GenerationEvent): unknown {
  switch (event.type) {
    case 'text':
      return wire.streamDelta(index, event.text);
    case 'reasoning':
      return wire.streamReasoning(index, event.text);
    case 'tool_call_start':
      return wire.streamToolCallStart(index, event);
    case 'tool_call_arguments':
      return wire.streamToolCallArguments(index, event.index, event.text);
    default:
      return undefined;
  }
}

export async function respondWithGeneration(ctx: Context, run: GenerationRun): Promise<void> {
  const access = ctx.state.access;
  access.stream = run.stream;
  const sse = run.stream
    ? new SseStream(ctx, {
        stallTimeoutMs: run.streamStallTimeoutMs,
        onStall: () =>
          run.logger.warn(
            { requestId: ctx.state.requestId, stallTimeoutMs: run.streamStallTimeoutMs },
            'stream cut: its client read nothing for stream_stall_timeout',
          ),
      })
    : undefined;
  const prefixOf = run.prefixOf ?? (() => '');
  const opening = sse
    ? new StreamStart({
        sse,
        signal: run.signal,
        openingFrames: (index) => {
          const frames: unknown[] = [];
          const start = run.wire.streamStart(index);
          if (start !== undefined) frames.push(start);
          const prefix = prefixOf(index);
          if (prefix !== '') frames.push(run.wire.streamDelta(index, prefix));
          return frames;
        },
      })
    : undefined;
  const started = ctx.state.startedAt;
  const firstText = () => {
    access.timeToFirstTokenMs ??= performance.now() - started;
  };

  const generation: GenerationRequest = {
    prompts: run.prompts,
    choicesPerPrompt: run.choicesPerPrompt,
    options: run.options,
    signal: run.signal,
    onAdmitted: (waitedMs) => {
      access.queueWaitMs = waitedMs;
    },
    // Every frame waits for a client that is behind (see SseStream), and a choice's frames are
    // written while it holds its slot: a choice's last frame holds all its logprobs (1,500 tokens ×
    // 20 alternatives is about 1.5 MB), so no choice starts writing more while the client has not
    // read what came before. The stream itself opens with the engine's first event (see StreamStart).
    onChoiceStart: opening && ((index) => opening.choiceStarted(index)),
    onEvent: (index, event) => {
      if (!sse || !opening) {
        // Not streamed: no frame to build, only the time of the first output.
        if (OUTPUT_EVENTS.has(event.type)) firstText();
        return;
      }
      const frame = deltaFrame(run.wire, index, event);
      if (frame !== undefined) firstText();
      // open() writes its frames at once: the delta written next comes after them.
      const opened = opening.open();
      if (frame === undefined) return opened;
      sse.stopKeepAlive();
      const sent = sse.send(frame);
      return opened && sent ? Promise.all([opened, sent]).then(() => undefined) : (opened ?? sent);
    },
    onChoiceEnd:
      sse && opening
        ? async (index, result) => {
            const opened = opening.open();
            await sse.send(run.wire.streamFinish(index, result.finishReason, result.logprobs));
            await opened;
          }
        : undefined,
  };

  let results: GenerationResult[];
  try {
    results = await run.handle.generate(generation);
  } catch (error) {
    opening?.stop();
    if (run.signal.aborted && isShutdownAbort(ctx)) {
      const ending = errors.unavailable('The server shut down before this request finished; retry it.', 1_000, 'shutting_down');
      if (sse?.isOpen) return sse.fail(ending);
      throw ending;
    }
    if (run.signal.aborted && isAbortError(error)) {
      // The prompt was processed for a client that left: that much is charged.
      ctx.state.usage = usageOf(run.promptTokens, 0);
      sse?.end();
      return;
    }
    const gatewayError = toGatewayError(error, run.wireNames);
    if (sse?.isOpen) {
      if (gatewayError.status >= 500) run.logger.error({ requestId: ctx.state.requestId, err: error }, 'generation failed mid-stream');
      sse.fail(gatewayError.type === 'api_error' ? errors.internal() : gatewayError);
      return;
    }
    if (gatewayError.type === 'api_error') run.logger.error({ requestId: ctx.state.requestId, err: error }, 'generation failed');
    throw gatewayError;
  }
  opening?.stop();
  const completionTokens = results.reduce((sum, result) => sum + result.completionTokens, 0);
  const usage = usageOf(run.exactPromptTokens?.(results) ?? run.promptTokens, completionTokens, cachedPromptTokensOf(results, run.choicesPerPrompt));
  access.promptTokens = usage.prompt_tokens;
  access.completionTokens = usage.completion_tokens;
  ctx.state.usage = usage;
  if (run.signal.aborted && isShutdownAbort(ctx)) {
    const ending = errors.unavailable('The server shut down before this request finished; retry it.', 1_000, 'shutting_down');
    if (sse?.isOpen) return sse.fail(ending);
    throw ending;
  }
  if (run.signal.aborted) {
    // The engine stopped early for a client that left; its partial usage is logged and charged.
    sse?.end();
    return;
  }
  if (sse) {
    await opening?.open();
    if (run.includeUsage) sse.send(run.wire.usageChunk(usage));
    sse.done();
    return;
  }
  ctx.body = run.wire.response(
    results.map((result, index) => ({ index, text: prefixOf(index) + result.text, result })),
    usage,
  );
}
