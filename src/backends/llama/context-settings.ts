// Config → llama.cpp model and context sizes, with the defaults and their reasons in one place.
import type { LlamaModel } from 'node-llama-cpp';
import type { ModelConfig } from '../../config/schema.js';

/**
 * Without `context_length`, the model's training context capped at 4096. The KV cache grows with
 * context × `parallel` sequences: a modern 128k-context model at 4 sequences would reserve cache
 * for half a million tokens (tens of GiB for an 8B model) and fail to load, whereas 4096 tokens
 * each holds nearly every chat and completion request and is what llama.cpp's server long used.
 * Operators who need more set `context_length`.
 */
export const DEFAULT_CONTEXT_CAP = 4096;

export function resolveContextSize(config: ModelConfig, model: LlamaModel): number {
  if (config.context_length !== undefined) return config.context_length;
  const trained = model.trainContextSize > 0 ? model.trainContextSize : DEFAULT_CONTEXT_CAP;
  return Math.min(trained, DEFAULT_CONTEXT_CAP);
}

/** Architectures that only encode (embeddings, reranking): they cannot generate text. */
const ENCODER_ONLY_ARCHITECTURES = new Set(['bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 'jina-bert-v3', 'modern-bert', 'neo-bert', 't5encoder']);

export function canGenerate(model: LlamaModel): boolean {
  const architecture = String(model.fileInfo.metadata?.general?.architecture ?? '');
  if (ENCODER_ONLY_ARCHITECTURES.has(architecture)) return false;
  const architectureMetadata = (model.fileInfo.metadata as unknown as Record<string, { attention?: { causal?: boolean } } | undefined>)[architecture];
  return architectureMetadata?.attention?.causal !== false;
}

/** Vocabulary size from the GGUF, for rejecting token ids the model does not have. */
export function vocabularySizeOf(model: LlamaModel): number {
  const size = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
  return typeof size === 'number' && size > 0 ? size : Number.MAX_SAFE_INTEGER;
}
