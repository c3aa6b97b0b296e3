// Runs the choices of a generation request through the model's handle and answers with one JSON
// body or an SSE stream: the formatter of the handle's events for every generation route (chat and
// text completions, Responses, Anthropic Messages; the wire format decides the shapes). Admission
// is the handle's business.
import type { Context } from 'koa';
import type { GenerationEvent, GenerationOptions, GenerationResult, PreparedPrompt } from '../../engine/contract.js';
import type { GenerationRequest, ModelHandle } from '../../model-call/model-calls.js';
import { errors } from '../../errors.js';
import type { ChoiceOutput, GenerationWire, StreamFrame, Usage } from '../../openai/generation-wire.js';
import { usageOf } from '../../openai/generation-wire.js';
import { isAbortError, isShutdownAbort } from '../../http/client-abort.js';
import { SseStream } from '../../http/sse-stream.js';
import { StreamStart } from './stream-start.js';
import { toGatewayError, type WireNames } from '../error-mapping.js';
import type { GatewayError } from '../../errors.js';
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
  /**
   * Runs once every choice ended normally, before the answer's last frames or its body go out
   * (a stored response is saved here, so that a client that read the end can continue from it).
   */
  onFinished?: (choices: ChoiceOutput[], usage: Usage) => Promise<void>;
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

const NO_FRAMES: StreamFrame[] = [];

/** The stream frames of an output event (text, thought, tool call); none for the others. */
function deltaFrames(wire: GenerationWire, index: number, event: GenerationEvent): StreamFrame[] {
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
      return NO_FRAMES;
  }
}

/** Writes frames in order; a promise when the client is behind on any of them. */
function sendFrames(sse: SseStream, frames: readonly StreamFrame[]): Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  for (const frame of frames) pending = sse.send(frame.data, frame.event) ?? pending;
  return pending;
}

/** Reports a failure in the stream's own format and ends it. */
function failStream(sse: SseStream, wire: GenerationWire, error: GatewayError): void {
  sendFrames(sse, wire.streamError(error));
  sse.end();
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
          const prefix = prefixOf(index);
          const start = run.wire.streamStart(index);
          return prefix === '' ? start : [...start, ...run.wire.streamDelta(index, prefix)];
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
      // open() writes its frames at once: the delta made next comes after them (and a wire that
      // numbers its events, as Responses does, numbers the opening frames first).
      const opened = opening.open();
      const frames = deltaFrames(run.wire, index, event);
      if (frames.length > 0) firstText();
      if (frames.length === 0) return opened;
      sse.stopKeepAlive();
      const sent = sendFrames(sse, frames);
      return opened && sent ? Promise.all([opened, sent]).then(() => undefined) : (opened ?? sent);
    },
    onChoiceEnd:
      sse && opening
        ? async (index, result) => {
            const opened = opening.open();
            await sendFrames(sse, run.wire.streamFinish(index, { index, text: prefixOf(index) + result.text, result }));
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
      if (sse?.isOpen) return failStream(sse, run.wire, ending);
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
      failStream(sse, run.wire, gatewayError.type === 'api_error' ? errors.internal() : gatewayError);
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
    if (sse?.isOpen) return failStream(sse, run.wire, ending);
    throw ending;
  }
  if (run.signal.aborted) {
    // The engine stopped early for a client that left; its partial usage is logged and charged.
    sse?.end();
    return;
  }
  const choices = results.map((result, index) => ({ index, text: prefixOf(index) + result.text, result }));
  try {
    await run.onFinished?.(choices, usage);
  } catch (error) {
    // The reply was generated (and is charged) but could not be kept: a stream that already sent
    // its headers reports that in its own format and ends, rather than being left open.
    const gatewayError = toGatewayError(error, run.wireNames);
    if (gatewayError.type === 'api_error') run.logger.error({ requestId: ctx.state.requestId, err: error }, 'finishing the response failed');
    if (sse?.isOpen) return failStream(sse, run.wire, gatewayError.type === 'api_error' ? errors.internal() : gatewayError);
    throw gatewayError;
  }
  if (sse) {
    await opening?.open();
    sendFrames(sse, run.wire.streamEnd(choices, usage));
    sse.done(run.wire.endsWithDone);
    return;
  }
  ctx.body = run.wire.response(choices, usage);
}
