// Reranking with a GGUF reranker (a cross-encoder whose GGUF declares rank pooling), through
// node-llama-cpp's ranking context. The tests build one (test/helpers/gguf-reranker.ts) from the
// shared BERT GGUF with a classification head of known weights, and check its scores.
import type { LlamaModel, LlamaRankingContext, Token } from 'node-llama-cpp';
import { cutToCharacterBound } from '../character-bound.js';
import { mapInTimeSlices } from '../time-sliced-map.js';
import type { RerankCapability } from '../../engine/contract.js';
import { InputTooLongError } from '../../engine/errors.js';

/** node-llama-cpp returns sigmoid(logit) (a probability); with `sigmoid = false` the logit is wanted back. */
function probabilityToLogit(probability: number): number {
  const clamped = Math.min(Math.max(probability, 1e-7), 1 - 1e-7);
  return Math.log(clamped / (1 - clamped));
}

export function createLlamaRerank(model: LlamaModel, context: LlamaRankingContext, settings: { sigmoid: boolean }): RerankCapability {
  // The ranking context refuses inputs of contextSize tokens or more.
  const maxInputTokens = context.contextSize - 1;
  // Cut first: tokens past the limit are dropped anyway, and tokenizing runs on the event loop.
  const tokenize = (text: string): Token[] => model.tokenize(cutToCharacterBound(text, maxInputTokens), false, 'trimLeadingSpace');

  return {
    maxInputTokens,
    async rerank(query, documents, options) {
      const queryTokens = tokenize(query);
      const overhead = context.calculateInputLength(queryTokens, []) - queryTokens.length;
      const room = maxInputTokens - overhead - queryTokens.length;
      const documentTokens = await mapInTimeSlices(
        documents,
        (document, index) => {
          const tokens = tokenize(document);
          if (tokens.length <= room) return tokens;
          if (!options.truncate || room <= 0) {
            throw new InputTooLongError(
              `document ${index} with the query is ${tokens.length + queryTokens.length + overhead} tokens long, but this model accepts at most ${maxInputTokens}`,
              room <= 0 ? 'query' : 'documents',
            );
          }
          return tokens.slice(0, room);
        },
        options.signal,
      );
      options.signal?.throwIfAborted();
      const probabilities = await context.rankAll(queryTokens, documentTokens);
      return {
        scores: settings.sigmoid ? probabilities : probabilities.map(probabilityToLogit),
        promptTokens: documentTokens.reduce((sum, tokens) => sum + context.calculateInputLength(queryTokens, tokens), 0),
      };
    },
  };
}
