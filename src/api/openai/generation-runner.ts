// Runs the choices of a chat or text completion request through the model's scheduler and
// answers with one JSON body or an SSE stream. Shared by both endpoints; the wire format decides
// the shapes.
import type { Context } from 'koa';
import type { GenerationOptions, GenerationResult } from '../../engine/contract.js';
import { errors } from '../../errors.js';
import type { GenerationWire } from '../../openai/generation-wire.js';
import { usageOf } from '../../openai/generation-wire.js';
import type { SlotScheduler } from '../../scheduler/slot-scheduler.js';
import { isAbortError, isShutdownAbort } from '../../server/client-abort.js';
import { SseStream } from '../../server/sse-stream.js';
import type { AccessDetails } from '../../server/middleware/access-log.js';
import { toGatewayError, type WireNames } from '../error-mapping.js';
import type { Logger } from '../../logger.js';

export interface GenerationJob {
  /** The choice's index in the response. */
  index: number;
  /** Text the choice's output starts with (the prompt, for `echo`). */
  prefix: string;
  generate(options: GenerationOptions): Promise<GenerationResult>;
}

export interface GenerationRun {
  jobs: GenerationJob[];
  scheduler: SlotScheduler;
  wire: GenerationWire;
  stream: boolean;
  includeUsage: boolean;
  /** Prompt tokens billed once per distinct prompt (n choices of one prompt share it). */
  promptTokens: number;
  /** The exact prompt tokens from the results, when `promptTokens` was an estimate (remote models). */
  exactPromptTokens?: (results: GenerationResult[]) => number;
  options: Omit<GenerationOptions, 'signal' | 'onText'>;
  signal: AbortSignal;
  /** How long a stream's client may read nothing before the stream is cut ([api] stream_stall_timeout). */
  streamStallTimeoutMs: number;
  logger: Logger;
  /** How the request spells the fields an error may name (see error-mapping.ts). */
  wireNames: WireNames;
}

export async function respondWithGeneration(ctx: Context, run: GenerationRun): Promise<void> {
  const access = ctx.state.access as AccessDetails;
  access.stream = run.stream;
  // One failing choice stops its siblings: the response cannot be completed anyway.
  const siblings = new AbortController();
  const signal = AbortSignal.any([run.signal, siblings.signal]);
  const sse = run.stream
    ? new SseStream(ctx, {
        stallTimeoutMs: run.streamStallTimeoutMs,
        onStall: () => run.logger.warn({ requestId: ctx.state.requestId, stallTimeoutMs: run.streamStallTimeoutMs }, 'stream cut: its client read nothing for stream_stall_timeout'),
      })
    : undefined;
  // The request's choices share a capped number of the model's slots.
  const requestSlots = run.scheduler.requestSlots();
  let firstAdmission = true;
  const started = (ctx.state.startedAt as number | undefined) ?? performance.now();
  const firstText = () => {
    access.timeToFirstTokenMs ??= performance.now() - started;
  };

  const runJob = (job: GenerationJob) =>
    run.scheduler.run(
      signal,
      async (runSignal) => {
        if (sse && !sse.isOpen && !signal.aborted) {
          sse.start();
          sse.startKeepAlive();
        }
        // Every frame waits for a client that is behind (see SseStream): a choice's last frame holds
        // all its logprobs (1,500 tokens × 20 alternatives is about 1.5 MB), so no choice starts
        // writing more while the client has not read what came before.
        const start = sse ? run.wire.streamStart(job.index) : undefined;
        if (sse && start !== undefined) await sse.send(start);
        if (sse && job.prefix !== '') await sse.send(run.wire.streamDelta(job.index, job.prefix));
        const result = await job.generate({
          ...run.options,
          signal: runSignal,
          onText: sse
            ? (text) => {
                firstText();
                sse.stopKeepAlive();
                return sse.send(run.wire.streamDelta(job.index, text));
              }
            : firstText,
        });
        if (sse) await sse.send(run.wire.streamFinish(job.index, result.finishReason, result.logprobs));
        return result;
      },
      (waitedMs) => {
        if (firstAdmission) access.queueWaitMs = waitedMs;
        firstAdmission = false;
      },
      requestSlots,
    );

  let results: GenerationResult[];
  try {
    results = await Promise.all(
      run.jobs.map((job) =>
        runJob(job).catch((error: unknown) => {
          siblings.abort();
          throw error;
        }),
      ),
    );
  } catch (error) {
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
  const completionTokens = results.reduce((sum, result) => sum + result.completionTokens, 0);
  const usage = usageOf(run.exactPromptTokens?.(results) ?? run.promptTokens, completionTokens);
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
    if (run.includeUsage) sse.send(run.wire.usageChunk(usage));
    sse.done();
    return;
  }
  ctx.body = run.wire.response(
    run.jobs.map((job, position) => ({ index: job.index, text: job.prefix + results[position].text, result: results[position] })),
    usage,
  );
}
