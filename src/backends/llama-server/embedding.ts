// Embeddings from a llama-server started with --embeddings: inputs are tokenized once here
// (/tokenize), cut to the model's limit or refused, and sent as token ids to the native /embedding
// endpoint, which pools them as the GGUF declares. Vectors are L2-normalised unless the model's
// `normalize` is false, as on the in-process engine.
//
// takesConcurrentCalls is false: the gateway's batcher in front pays. Measured with tiny-bert-embed
// on 2 cores, 64 inputs of ~40 tokens: one /embedding call holding all 64 took 107-200 ms on one
// slot, 64 concurrent one-input calls 225-493 ms (and 3.2-6.1 s on 4 slots, where the server's
// HTTP threads and slots compete for the cores), one after another 430 ms. The server batches the
// inputs of one call well; many small calls cost a request each.
import type { EmbeddingCapability, EmbeddingInput, PreparedEmbeddingInput } from '../../engine/contract.js';
import { InputTooLongError } from '../../engine/errors.js';
import { cutToCharacterBound } from '../character-bound.js';
import { assertTokensInVocabulary } from '../llama/sampling.js';
import type { LlamaServerConnection } from './connection.js';
import { postJson } from './server-wire.js';
import { tokenizeOnServer } from './tokenizer.js';

export interface ServerEmbeddingSettings {
  normalize: boolean;
  dimensions: number;
  /** Tokens one input may have, special tokens included. */
  maxInputTokens: number;
  vocabularySize: number;
}

/** An input tokenized, cut and wrapped in CLS/SEP (or BOS/EOS): the tokens the server evaluates. */
export interface ServerPreparedInput extends PreparedEmbeddingInput {
  readonly tokens: number[];
}

/** The special tokens the vocabulary puts around a text (CLS … SEP for BERT, BOS … for llama). */
interface Wrapping {
  first: number[];
  last: number[];
}

/** Tokenizing requests in flight at once for one prepare (inputs can number in the thousands). */
const TOKENIZE_CONCURRENCY = 8;

async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export function createServerEmbedding(connection: LlamaServerConnection, settings: ServerEmbeddingSettings): EmbeddingCapability<ServerPreparedInput> {
  let wrapping: Promise<Wrapping> | undefined;
  /** Learnt once from the server: "a" tokenized with and without special tokens. */
  const wrappingOf = (signal?: AbortSignal): Promise<Wrapping> => {
    wrapping ??= (async () => {
      const [wrapped, plain] = await Promise.all([
        tokenizeOnServer(connection, 'a', { addSpecial: true, parseSpecial: false, signal }),
        tokenizeOnServer(connection, 'a', { addSpecial: false, parseSpecial: false, signal }),
      ]);
      const start = wrapped.findIndex((_, index) => plain.every((token, offset) => wrapped[index + offset] === token));
      return start < 0 ? { first: [], last: [] } : { first: wrapped.slice(0, start), last: wrapped.slice(start + plain.length) };
    })();
    wrapping.catch(() => (wrapping = undefined));
    return wrapping;
  };

  /** An input's tokens without CLS/SEP (or BOS/EOS). */
  const contentOf = async (input: EmbeddingInput, { first, last }: Wrapping, signal?: AbortSignal): Promise<number[]> => {
    // Cut first: tokens past the limit are dropped anyway, and each character costs the tokenizer.
    // Special-token text in an input is text, as on the in-process engine.
    if (typeof input === 'string')
      return await tokenizeOnServer(connection, cutToCharacterBound(input, settings.maxInputTokens), { addSpecial: false, parseSpecial: false, signal });
    assertTokensInVocabulary(input, settings.vocabularySize, 'input');
    let content = input;
    // Token inputs that already carry the special tokens keep them, once.
    if (first.length > 0 && first.every((token, index) => content[index] === token)) content = content.slice(first.length);
    if (last.length > 0 && content.length >= last.length && last.every((token, index) => content[content.length - last.length + index] === token)) {
      content = content.slice(0, content.length - last.length);
    }
    return content;
  };

  return {
    dimensions: settings.dimensions,
    maxInputTokens: settings.maxInputTokens,
    vocabularySize: settings.vocabularySize,
    takesConcurrentCalls: false,
    async prepare(inputs, options) {
      const wrap = await wrappingOf(options.signal);
      const specials = wrap.first.length + wrap.last.length;
      // Every input is tokenized (once) and checked before any is run, so a long one fails the request at no cost.
      return await mapWithConcurrency(inputs, TOKENIZE_CONCURRENCY, async (input, index) => {
        options.signal?.throwIfAborted();
        let content = await contentOf(input, wrap, options.signal);
        if (content.length + specials > settings.maxInputTokens) {
          if (!options.truncate) {
            throw new InputTooLongError(
              `input ${index} is ${content.length + specials} tokens long, but this model accepts at most ${settings.maxInputTokens} tokens per input`,
              'input',
            );
          }
          content = content.slice(0, Math.max(0, settings.maxInputTokens - specials));
        }
        const tokens = [...wrap.first, ...content, ...wrap.last];
        return { tokenCount: tokens.length, tokens };
      });
    },
    async embed(inputs, options) {
      const vectors = inputs.map(() => new Float32Array(settings.dimensions));
      // No tokens at all (an empty text on a vocabulary without special tokens) has no meaning to
      // pool, and the server refuses it: it keeps a zero vector, as on the in-process engine.
      const runs = inputs.flatMap((input, index) => (input.tokens.length === 0 ? [] : [index]));
      if (runs.length > 0) {
        const answer = await postJson<Array<{ index: number; embedding: number[][] }>>(
          connection,
          '/embedding',
          // embd_normalize 2 is L2, -1 leaves the pooled vector as it is.
          { content: runs.map((index) => inputs[index].tokens), embd_normalize: settings.normalize ? 2 : -1 },
          options.signal,
          'input',
        );
        for (const result of answer) vectors[runs[result.index]] = Float32Array.from(result.embedding[0]);
      }
      return { vectors, tokenCounts: inputs.map((input) => input.tokenCount) };
    },
  };
}
