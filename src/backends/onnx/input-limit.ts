// The longest input (in tokens, special tokens included) the model accepts.
import type { OnnxModelFiles } from './model-files.js';
import type { ModelTokenizer } from './tokenizer.js';

export interface InputLimit {
  maxInputTokens: number;
  /** Where the number came from, for the load log. */
  source: string;
  /** What the model files allow, when the operator's `context_length` replaced it. */
  detected?: number;
}

// RoBERTa-family position ids start after the padding index, so `max_position_embeddings` (514)
// counts two positions no token can use.
const POSITIONS_OFFSET_BY_PADDING = new Set(['roberta', 'xlm-roberta', 'camembert', 'mpnet', 'longformer', 'data2vec-text']);

/** Without any hint in the files: BERT's limit, the most common one. */
const FALLBACK = 512;

/**
 * The smallest limit the files state (tokenizer `model_max_length`, the position-embedding size,
 * sentence-transformers' `max_seq_length`); the operator's `context_length` replaces it.
 */
export function resolveInputLimit(files: OnnxModelFiles, tokenizer: ModelTokenizer, contextLength: number | undefined): InputLimit {
  const found: Array<[number, string]> = [];
  if (tokenizer.modelMaxLength !== undefined) found.push([tokenizer.modelMaxLength, 'tokenizer_config.json model_max_length']);
  const positions = files.modelConfig?.max_position_embeddings;
  if (typeof positions === 'number' && positions > 0) {
    const modelType = files.modelConfig?.model_type;
    const padding = files.modelConfig?.pad_token_id;
    const offset = typeof modelType === 'string' && POSITIONS_OFFSET_BY_PADDING.has(modelType) && typeof padding === 'number' ? padding + 1 : 0;
    found.push([positions - offset, 'config.json max_position_embeddings']);
  }
  const sentenceLimit = files.sentenceTransformersConfig?.max_seq_length;
  if (typeof sentenceLimit === 'number' && sentenceLimit > 0) found.push([sentenceLimit, 'sentence_bert_config.json max_seq_length']);

  const smallest = found.reduce<[number, string] | undefined>((best, next) => (best === undefined || next[0] < best[0] ? next : best), undefined);
  if (contextLength !== undefined) return { maxInputTokens: contextLength, source: 'context_length in the config', detected: smallest?.[0] };
  if (smallest === undefined) return { maxInputTokens: FALLBACK, source: `default (${FALLBACK}); the model files state no limit` };
  return { maxInputTokens: smallest[0], source: smallest[1] };
}
