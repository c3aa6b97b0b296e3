// Tokenize and detokenize with a llama.cpp model's own vocabulary (the native /tokenize routes).
import type { LlamaModel, Token } from 'node-llama-cpp';
import type { TokenizeCapability } from '../../engine/contract.js';
import { assertTokensInVocabulary } from './sampling.js';
import { withSpecialTokens } from './special-tokens.js';

/**
 * Special-token text is parsed, as in completion prompts, so that tokenize gives the ids a
 * completion would use; `addSpecialTokens` adds BOS (and CLS/SEP for BERT-style vocabularies).
 * Detokenize renders special tokens, so that the pair round-trips.
 */
export function createLlamaTokenizer(model: LlamaModel, vocabularySize: number): TokenizeCapability {
  return {
    async tokenize(text, options) {
      const tokens = model.tokenize(text, true);
      return options?.addSpecialTokens ? withSpecialTokens(model, tokens, { end: true }) : tokens;
    },
    async detokenize(tokens) {
      // An id outside the vocabulary would read past llama.cpp's token table.
      assertTokensInVocabulary(tokens, vocabularySize, 'tokens');
      return model.detokenize(tokens as Token[], true);
    },
  };
}
