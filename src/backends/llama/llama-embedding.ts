// Embeddings from a GGUF embedding model (pooling as the GGUF declares it, e.g. BERT mean pooling).
// llama.cpp returns the pooled vector as is, so it is L2-normalised here unless the config says not.
import type { LlamaEmbeddingContext, LlamaModel, Token } from 'node-llama-cpp';
import { cutToCharacterBound } from '../character-bound.js';
import { mapInTimeSlices } from '../time-sliced-map.js';
import type { EmbeddingCapability, EmbeddingInput, PreparedEmbeddingInput } from '../../engine/contract.js';
import { InputTooLongError } from '../../engine/errors.js';
import { assertTokensInVocabulary } from './sampling.js';
import { beginningToken, endToken } from './special-tokens.js';

export function l2Normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm === 0) return vector;
  for (let index = 0; index < vector.length; index++) vector[index] /= norm;
  return vector;
}

export interface LlamaEmbeddingSettings {
  normalize: boolean;
  /** Tokens one input may have, special tokens included. */
  maxInputTokens: number;
  vocabularySize: number;
}

/** An input tokenized, cut and wrapped in CLS/SEP (or BOS/EOS): the tokens the context evaluates. */
export interface LlamaPreparedInput extends PreparedEmbeddingInput {
  readonly tokens: Token[];
}

export function createLlamaEmbedding(
  model: LlamaModel,
  context: LlamaEmbeddingContext,
  settings: LlamaEmbeddingSettings,
): EmbeddingCapability<LlamaPreparedInput> {
  const first = beginningToken(model);
  const last = endToken(model);

  const specials = (first === null ? 0 : 1) + (last === null ? 0 : 1);

  /** An input's tokens without CLS/SEP (or BOS/EOS). */
  const contentOf = (input: EmbeddingInput): Token[] => {
    // Cut first: tokens past the limit are dropped anyway, and tokenizing runs on the event loop.
    if (typeof input === 'string') return model.tokenize(cutToCharacterBound(input, settings.maxInputTokens), false);
    assertTokensInVocabulary(input, settings.vocabularySize, 'input');
    let content = input as Token[];
    // Token inputs that already carry the special tokens keep them, once.
    if (first !== null && content[0] === first) content = content.slice(1);
    if (last !== null && content.at(-1) === last) content = content.slice(0, -1);
    return content;
  };

  /** The tokens the model will see for one input: content cut to fit, then CLS/SEP (or BOS/EOS). */
  const prepareOne = (input: EmbeddingInput, index: number, truncate: boolean): Token[] => {
    let content = contentOf(input);
    const total = content.length + specials;
    if (total > settings.maxInputTokens) {
      if (!truncate) {
        throw new InputTooLongError(
          `input ${index} is ${total} tokens long, but this model accepts at most ${settings.maxInputTokens} tokens per input`,
          'input',
        );
      }
      content = content.slice(0, settings.maxInputTokens - specials);
    }
    return [...(first === null ? [] : [first]), ...content, ...(last === null ? [] : [last])];
  };

  return {
    dimensions: model.embeddingVectorSize,
    maxInputTokens: settings.maxInputTokens,
    vocabularySize: settings.vocabularySize,
    async prepare(inputs, options) {
      // Every input is tokenized (once) and checked before any is run, so a long one fails the request at no cost.
      return mapInTimeSlices(
        inputs,
        (input, index) => {
          const tokens = prepareOne(input, index, options.truncate);
          return { tokenCount: tokens.length, tokens };
        },
        options.signal,
      );
    },
    async embed(inputs, options) {
      const vectors: Float32Array[] = [];
      // The embedding context has one sequence; node-llama-cpp runs its inputs one after another.
      for (const { tokens } of inputs) {
        options.signal?.throwIfAborted();
        // No tokens at all (an empty text on a vocabulary without special tokens) has no meaning to pool.
        const vector = tokens.length === 0 ? new Float32Array(model.embeddingVectorSize) : Float32Array.from((await context.getEmbeddingFor(tokens)).vector);
        vectors.push(settings.normalize ? l2Normalize(vector) : vector);
      }
      return { vectors, tokenCounts: inputs.map((input) => input.tokenCount) };
    },
  };
}
