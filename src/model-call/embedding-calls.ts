// The embedding and rerank calls of a leased model, with its admission inside: a route checks the
// request against the limits, prepares the inputs (tokenized once, giving the token counts its
// rate-limit reservation needs), then embeds them, and never sees an engine, a batcher or a queue.
// Local embedding engines are reached through the model's batcher (which applies `max_queue` and
// `queue_timeout` to requests waiting for a run); engines that batch on their own side (a remote
// server) and rerankers take the model's slots, with the same limits.
import type { EmbeddingBatchResult, EmbeddingCapability, EmbeddingInput, PreparedEmbeddingInput, RerankCapability, RerankResult } from '../engine/contract.js';
import { ModelCapabilityError } from '../registry/model-errors.js';
import type { ModelLease } from '../registry/model-registry.js';

export interface EmbeddingLimits {
  /** Length of each vector before any `dimensions` shortening. */
  dimensions: number;
  /** Longest input in tokens the model accepts. */
  maxInputTokens: number;
  /** Token ids an input may hold: 0 to vocabularySize - 1; undefined when unknown (a remote model). */
  vocabularySize: number | undefined;
  /** Inputs per request (config `max_inputs`). */
  maxInputs: number;
  /** Whether over-long inputs are cut (config `truncate`) rather than refused. */
  truncate: boolean;
}

export interface RerankLimits {
  /** Longest (query, document) pair in tokens the model accepts. */
  maxInputTokens: number;
  /** Documents per request (config `max_inputs`). */
  maxDocuments: number;
  /** Whether over-long pairs are cut (config `truncate`) rather than refused. */
  truncate: boolean;
}

/** A request's inputs as the engine will run them; only `embed` of the same model reads them. */
export interface PreparedEmbeddings {
  readonly inputs: readonly PreparedEmbeddingInput[];
  /** Tokens of all the inputs together (an estimate for a remote model): the rate-limit reservation. */
  readonly tokenCount: number;
}

export interface EmbeddingCalls {
  /** What an embedding request is checked against. Throws ModelCapabilityError when the model cannot embed. */
  embeddingLimits(): EmbeddingLimits;
  /** What a rerank request is checked against. Throws ModelCapabilityError when the model cannot rerank. */
  rerankLimits(): RerankLimits;
  /**
   * Tokenizes each input once and cuts it to the model's limit (or refuses it, with `truncate = false`).
   * A request that would find the queue full gets its QueueFullError here, before any tokenizing.
   */
  prepare(inputs: EmbeddingInput[], signal?: AbortSignal): Promise<PreparedEmbeddings>;
  /**
   * One vector per input, in order, once the model admits the request: QueueFullError beyond
   * `max_queue` waiting requests, QueueTimeoutError after `queue_timeout` seconds of waiting.
   * An aborted signal drops the request from the queue and rejects with an AbortError.
   */
  embed(prepared: PreparedEmbeddings, signal: AbortSignal): Promise<EmbeddingBatchResult>;
  /** One score per document, in the documents' order, admitted as `embed` is (the model's slots). */
  rerank(query: string, documents: string[], signal: AbortSignal): Promise<RerankResult>;
}

export function embeddingCalls(lease: Pick<ModelLease, 'entry' | 'model' | 'scheduler'>): EmbeddingCalls {
  const { entry, model, scheduler } = lease;
  const config = entry.config;

  const embedding = (): EmbeddingCapability => model.embedding ?? cannot('embed');
  const reranker = (): RerankCapability => model.rerank ?? cannot('rerank');
  function cannot(capability: 'embed' | 'rerank'): never {
    throw new ModelCapabilityError(entry.id, capability);
  }

  return {
    embeddingLimits() {
      const engine = embedding();
      return {
        dimensions: engine.dimensions,
        maxInputTokens: engine.maxInputTokens,
        vocabularySize: engine.vocabularySize,
        maxInputs: config.max_inputs,
        truncate: config.truncate,
      };
    },
    rerankLimits() {
      return { maxInputTokens: reranker().maxInputTokens, maxDocuments: config.max_inputs, truncate: config.truncate };
    },
    async prepare(inputs, signal) {
      const engine = embedding();
      // A full queue refuses the request before its inputs cost any tokenizing.
      entry.embeddingBatcher?.checkRoom();
      const prepared = await engine.prepare(inputs, { truncate: config.truncate, signal });
      let tokenCount = 0;
      for (const input of prepared) tokenCount += input.tokenCount;
      return { inputs: prepared, tokenCount };
    },
    embed(prepared, signal) {
      const engine = embedding();
      // No batcher: the engine batches on its own side, and each call takes one of the model's slots.
      if (entry.embeddingBatcher === undefined) return scheduler.run(signal, (runSignal) => engine.embed(prepared.inputs, { signal: runSignal }));
      return entry.embeddingBatcher.submit(prepared.inputs, { signal });
    },
    rerank(query, documents, signal) {
      const engine = reranker();
      return scheduler.run(signal, (runSignal) => engine.rerank(query, documents, { truncate: config.truncate, signal: runSignal }));
    },
  };
}
