// Which special tokens llama.cpp's tokenizer adds around a text (llama_tokenize with add_special),
// mirrored here because prompts are assembled from pieces and the pieces are tokenized alone.
import { LlamaVocabularyType, type LlamaModel, type Token } from 'node-llama-cpp';

export function beginningToken(model: LlamaModel): Token | null {
  switch (model.vocabularyType) {
    case LlamaVocabularyType.rwkv:
    case LlamaVocabularyType.ugm:
      return null;
    case LlamaVocabularyType.wpm:
      return model.tokens.bos;
    default:
      return model.tokens.shouldPrependBosToken ? model.tokens.bos : null;
  }
}

export function endToken(model: LlamaModel): Token | null {
  switch (model.vocabularyType) {
    case LlamaVocabularyType.rwkv:
      return null;
    case LlamaVocabularyType.wpm:
      return model.tokens.sep;
    case LlamaVocabularyType.ugm:
      return model.tokens.eos;
    default:
      return model.tokens.shouldAppendEosToken ? model.tokens.eos : null;
  }
}

/** Adds the beginning and end tokens the model expects, unless the tokens already carry them. */
export function withSpecialTokens(model: LlamaModel, tokens: readonly Token[], options: { end: boolean }): Token[] {
  const result = tokens.slice();
  const first = beginningToken(model);
  if (first !== null && result[0] !== first) result.unshift(first);
  const last = options.end ? endToken(model) : null;
  if (last !== null && result.at(-1) !== last) result.push(last);
  return result;
}
