// A model served by OpenAI-compatible upstreams, behind the same capability interfaces as the
// local engines, so that routes, limits and the scheduler treat it like any other model.
// Generations always stream from the upstream: text reaches the client delta by delta, a client
// that leaves cancels the upstream request, and the usage chunk (stream_options.include_usage)
// gives the exact token counts that reconcile the estimates made before the run.
import { reportEnd } from '../../src/engine/generation-end.js';
import type {
  ChatCapability,
  ChatMessage,
  EmbeddingCapability,
  EmbeddingInput,
  GenerationOptions,
  GenerationResult,
  LoadedModel,
  PreparedEmbeddingInput,
  PreparedPrompt,
  RerankCapability,
  TextCompletionCapability,
  TokenLogprob,
} from '../../src/engine/contract.js';
import type { ModelConfig } from '../../src/config/schema.js';
import type { Logger } from '../../src/logger.js';
import { sseData } from '../../src/upstream/sse-frames.js';
import { UpstreamStreamError } from '../../src/upstream/openai-client.js';
import { UpstreamClient } from './upstream-client.js';
import { UpstreamPool } from './upstream-pool.js';
import type { RemoteModelOptions, RemoteOptions } from './options.js';
import {
  chatLogprobsOf,
  chatMessagesBody,
  estimateChatTokens,
  estimateTokens,
  finishReasonOf,
  generationFields,
  spreadTokens,
  textLogprobsOf,
  toolFields,
  vectorOf,
} from './upstream-wire.js';
import { ToolCallAssembler, UpstreamToolCallError, type ToolCallDelta } from './tool-call-deltas.js';

/**
 * What a remote model prepares: the request fields that carry the prompt, and an estimate of its
 * tokens (there is no tokenizer here; the upstream's usage chunk gives the exact count).
 */
interface RemotePrompt extends PreparedPrompt {
  readonly kind: 'chat' | 'text';
  readonly input: Record<string, unknown>;
}

function asRemotePrompt(prompt: PreparedPrompt): RemotePrompt {
  const remote = prompt as Partial<RemotePrompt>;
  if (remote.kind === undefined || remote.input === undefined) throw new TypeError('this prompt was not prepared by a remote model');
  return prompt as RemotePrompt;
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number };
}

/** An embedding input as sent upstream, with its estimated token count. */
interface RemoteEmbeddingInput extends PreparedEmbeddingInput {
  readonly input: EmbeddingInput;
}

export interface RemoteModelSettings {
  id: string;
  config: ModelConfig;
  modelOptions: RemoteModelOptions;
  pluginOptions: RemoteOptions;
  apiKey?: string;
  logger: Logger;
}

export class RemoteModel implements LoadedModel {
  readonly parallelism: number;
  readonly promptTokensAreEstimates = true;
  readonly chat?: ChatCapability;
  readonly textCompletion?: TextCompletionCapability;
  readonly embedding?: EmbeddingCapability<RemoteEmbeddingInput>;
  readonly rerank?: RerankCapability;
  private readonly client: UpstreamClient;
  private readonly pool: UpstreamPool;
  private readonly upstreamModel: string;
  private healthTimer?: NodeJS.Timeout;
  private checking = false;
  private learnedDimensions?: number;

  constructor(private readonly settings: RemoteModelSettings) {
    const { modelOptions, pluginOptions, logger } = settings;
    this.upstreamModel = modelOptions.upstream_model ?? settings.id;
    this.parallelism = modelOptions.upstreams.length * modelOptions.max_concurrent_per_upstream;
    this.pool = new UpstreamPool(modelOptions.upstreams, {
      backoffInitialMs: pluginOptions.backoff_initial * 1000,
      backoffMaxMs: pluginOptions.backoff_max * 1000,
      maxConcurrentPerUpstream: modelOptions.max_concurrent_per_upstream,
      queue: { model: settings.id, maxQueue: settings.config.max_queue, queueTimeoutMs: settings.config.queue_timeout * 1000 },
      onChange: (upstream, state) =>
        state === 'down'
          ? logger.warn({ upstream: upstream.url, reason: upstream.lastError }, 'upstream down')
          : logger.info({ upstream: upstream.url }, 'upstream up'),
    });
    this.client = new UpstreamClient({
      model: settings.id,
      pool: this.pool,
      apiKey: settings.apiKey,
      responseTimeoutMs: pluginOptions.response_timeout * 1000,
      logger,
    });
    const type = settings.config.type;
    if (type === 'chat') {
      this.chat = {
        // Images and tools go on to the upstream, which answers for its model (a 400 from it is relayed).
        acceptsImages: true,
        acceptsTools: true,
        // Preparing runs before a stream's headers are sent: with every upstream down, the client
        // gets a real 503 with Retry-After rather than an error frame in a 200 stream.
        prepareChat: async (messages, options): Promise<RemotePrompt> => {
          this.client.assertAnyUp();
          return { kind: 'chat', input: { messages: chatMessagesBody(messages) }, promptTokens: estimateChatTokens(messages, options?.tools) };
        },
        generate: (prompt, options) => this.generate(asRemotePrompt(prompt), options),
      };
    }
    if (type === 'chat' || type === 'completion') {
      this.textCompletion = {
        prepareText: async (prompt, options = {}): Promise<RemotePrompt> => {
          this.client.assertAnyUp();
          return { kind: 'text', input: options.suffix === undefined ? { prompt } : { prompt, suffix: options.suffix }, promptTokens: estimateTokens(prompt) };
        },
        generate: (prompt, options) => this.generate(asRemotePrompt(prompt), options),
      };
    }
    if (type === 'embedding') {
      const model = this;
      this.embedding = {
        takesConcurrentCalls: true,
        get dimensions() {
          return settings.config.dimensions ?? model.learnedDimensions ?? Number.MAX_SAFE_INTEGER;
        },
        maxInputTokens: Number.MAX_SAFE_INTEGER,
        // Nothing to tokenize here: the estimates reserve the budget, the upstream's usage is charged.
        prepare: async (inputs) => inputs.map((input) => ({ tokenCount: typeof input === 'string' ? estimateTokens(input) : input.length, input })),
        embed: (inputs, options) => this.embed(inputs, options.signal),
      };
    }
    if (type === 'rerank') {
      this.rerank = {
        maxInputTokens: Number.MAX_SAFE_INTEGER,
        rerank: (query, documents, options) => this.rerankDocuments(query, documents, options.signal),
      };
    }
  }

  get info() {
    const pool = this.pool;
    const upstreamModel = this.upstreamModel;
    const upstreams = pool.snapshot();
    return {
      device: 'remote',
      contextLength: this.settings.config.context_length,
      dimensions: this.settings.config.dimensions ?? this.learnedDimensions,
      // Upstream URLs (and errors quoting them) are internal addresses: for admin keys only.
      details: { upstream_model: upstreamModel, upstreams: upstreams.map(({ url: _url, last_error: _lastError, ...status }) => status) },
      adminDetails: { upstreams },
    };
  }

  /** Checks every upstream once, then keeps checking every `health_check_interval` seconds. */
  async start(): Promise<void> {
    await this.checkHealth();
    const interval = this.settings.pluginOptions.health_check_interval;
    if (interval > 0) {
      this.healthTimer = setInterval(() => void this.checkHealth(), interval * 1000);
      this.healthTimer.unref();
    }
  }

  async dispose(): Promise<void> {
    clearInterval(this.healthTimer);
  }

  private healthUrl(base: string): string {
    const target = this.settings.pluginOptions.health_check_path;
    return new URL(target, `${base}/`).href;
  }

  private async checkHealth(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const timeoutMs = this.settings.pluginOptions.health_check_timeout * 1000;
    try {
      await Promise.all(
        this.pool.upstreams.map(async (upstream) => {
          try {
            const response = await this.client.healthCheck(this.healthUrl(upstream.url), timeoutMs);
            await response.arrayBuffer().catch(() => undefined);
            if (response.ok) this.pool.markUp(upstream);
            else this.pool.markDown(upstream, `health check answered ${response.status}`);
          } catch (error) {
            const cause = (error as { cause?: { code?: string } }).cause;
            this.pool.markDown(upstream, `health check failed: ${cause?.code ?? (error instanceof Error ? error.message : String(error))}`);
          }
        }),
      );
    } finally {
      this.checking = false;
    }
  }

  private async generate(prompt: RemotePrompt, options: GenerationOptions): Promise<GenerationResult> {
    const { kind } = prompt;
    const body = {
      model: this.upstreamModel,
      ...prompt.input,
      ...generationFields(options, kind),
      ...(kind === 'chat' ? toolFields(options.tools) : {}),
      stream: true,
      stream_options: { include_usage: true },
    };
    let relayed = false;
    return this.client.send({
      path: kind === 'chat' ? '/chat/completions' : '/completions',
      body,
      signal: options.signal,
      retryable: () => !relayed,
      read: async (response) => {
        if (!response.body) throw new UpstreamStreamError('the upstream sent no body');
        let text = '';
        let reasoning = '';
        let deltas = 0;
        let finishReason: unknown;
        let usage: Usage | undefined;
        let done = false;
        const logprobs: TokenLogprob[] = [];
        const calls = options.tools === undefined ? undefined : new ToolCallAssembler(options.tools, (event) => options.onEvent?.(event));
        // Read to the end, past [DONE]: leaving early would close the keep-alive connection.
        for await (const data of sseData(response.body)) {
          if (data === '[DONE]') {
            done = true;
            continue;
          }
          let chunk: {
            error?: { message?: string };
            usage?: Usage | null;
            choices?: Array<{
              index?: number;
              delta?: { content?: string | null; reasoning_content?: string | null; reasoning?: string | null; tool_calls?: ToolCallDelta[] | null };
              text?: string;
              finish_reason?: string | null;
              logprobs?: unknown;
            }>;
          };
          try {
            chunk = JSON.parse(data) as typeof chunk;
          } catch {
            throw new UpstreamStreamError(`the upstream sent a frame that is not JSON: ${data.slice(0, 80)}`);
          }
          if (chunk.error) throw new UpstreamStreamError(`the upstream's stream failed: ${chunk.error.message ?? 'no message'}`, chunk);
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          // The thought: `reasoning_content` (llama.cpp, DeepSeek, this gateway) or `reasoning` (vLLM's newer name).
          const thought = kind === 'chat' ? (choice.delta?.reasoning_content ?? choice.delta?.reasoning) : undefined;
          if (thought) {
            relayed = true;
            deltas++;
            reasoning += thought;
            await options.onEvent?.({ type: 'reasoning', text: thought });
          }
          const piece = kind === 'chat' ? choice.delta?.content : choice.text;
          if (piece) {
            calls?.assertTextAllowed(piece);
            relayed = true;
            deltas++;
            text += piece;
            // Waiting for a reader that is behind stops reading the upstream too: TCP holds it back there.
            await options.onEvent?.({ type: 'text', text: piece });
          }
          const toolCalls = kind === 'chat' ? choice.delta?.tool_calls : undefined;
          if (toolCalls && toolCalls.length > 0) {
            if (calls === undefined) throw new UpstreamToolCallError('the upstream called a tool although the request listed none');
            // Checked before it is relayed: a call the request did not allow never reaches the client.
            await calls.push(toolCalls);
            relayed = true;
          }
          if (choice.logprobs) logprobs.push(...(kind === 'chat' ? chatLogprobsOf(choice.logprobs) : textLogprobsOf(choice.logprobs)));
          if (choice.finish_reason) finishReason = choice.finish_reason;
        }
        if (!done && finishReason === undefined) throw new UpstreamStreamError('the upstream closed the stream before it finished');
        if (finishReason !== 'length') calls?.assertChoiceHonoured();
        // A call cut by max_tokens stays, as streamed: the reply holds what a streaming client received.
        const madeCalls = calls?.calls ?? [];
        const result: GenerationResult = {
          text,
          ...(reasoning !== '' ? { reasoning } : {}),
          ...(madeCalls.length > 0 ? { toolCalls: madeCalls } : {}),
          finishReason: finishReasonOf(finishReason, madeCalls.length > 0),
          promptTokens: usage?.prompt_tokens ?? prompt.promptTokens,
          // Without a usage chunk, one token per delta is the closest guess.
          completionTokens: usage?.completion_tokens ?? deltas,
          cachedPromptTokens: usage?.prompt_tokens_details?.cached_tokens,
          logprobs: options.topLogprobs === undefined ? undefined : logprobs,
        };
        return await reportEnd(options, result);
      },
    });
  }

  private async embed(prepared: readonly RemoteEmbeddingInput[], signal?: AbortSignal) {
    const inputs = prepared.map((item) => item.input);
    return this.client.send({
      path: '/embeddings',
      body: { model: this.upstreamModel, input: inputs, encoding_format: 'base64' },
      signal,
      read: async (response) => {
        const body = (await response.json()) as { data?: Array<{ index?: number; embedding?: unknown }>; usage?: Usage };
        const data = body.data ?? [];
        if (data.length !== inputs.length) throw new UpstreamStreamError(`the upstream sent ${data.length} embeddings for ${inputs.length} inputs`);
        const vectors = new Array<Float32Array>(inputs.length);
        data.forEach((item, position) => (vectors[item.index ?? position] = vectorOf(item.embedding)));
        this.learnedDimensions ??= vectors[0]?.length;
        const estimates = prepared.map((item) => item.tokenCount);
        const total = body.usage?.prompt_tokens ?? body.usage?.total_tokens;
        return { vectors, tokenCounts: total === undefined ? estimates : spreadTokens(total, estimates) };
      },
    });
  }

  private async rerankDocuments(query: string, documents: string[], signal?: AbortSignal) {
    return this.client.send({
      path: '/rerank',
      body: { model: this.upstreamModel, query, documents, return_documents: false },
      signal,
      read: async (response) => {
        const body = (await response.json()) as { results?: Array<{ index: number; relevance_score: number }>; usage?: Usage };
        const scores = new Array<number>(documents.length).fill(Number.NEGATIVE_INFINITY);
        for (const result of body.results ?? []) scores[result.index] = result.relevance_score;
        if (scores.some((score) => score === Number.NEGATIVE_INFINITY)) throw new UpstreamStreamError('the upstream did not score every document');
        const promptTokens =
          body.usage?.prompt_tokens ??
          body.usage?.total_tokens ??
          estimateTokens(query) * documents.length + documents.reduce((sum, document) => sum + estimateTokens(document), 0);
        return { scores, promptTokens };
      },
    });
  }
}
