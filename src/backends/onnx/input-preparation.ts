// Turns request inputs into the exact token sequences the model runs: special tokens added,
// over-long inputs cut or refused, client token ids checked. Each text is tokenized here, once.
import { cutToCharacterBound } from '../character-bound.js';
import type { EmbeddingInput } from '../../engine/contract.js';
import { InputTooLongError, InvalidInputError } from '../../engine/errors.js';
import { keepTokens, longestFirstLengths, type TokenSequence } from './sequence-layout.js';
import type { ModelTokenizer } from './tokenizer.js';

export class InputPreparation {
  readonly #tokenizer: ModelTokenizer;
  readonly #maxTokens: number;

  constructor(tokenizer: ModelTokenizer, maxInputTokens: number) {
    this.#tokenizer = tokenizer;
    this.#maxTokens = maxInputTokens;
  }

  get vocabularySize(): number {
    return this.#tokenizer.vocabularySize;
  }

  /**
   * Token-id inputs are taken as the complete sequence, as given: nothing is added (as TEI and
   * OpenAI treat pre-tokenized input), so a client that wants [CLS]/[SEP] includes them.
   */
  single(input: EmbeddingInput, truncate: boolean): TokenSequence {
    if (typeof input !== 'string') return { ids: this.#checkTokenIds(input, truncate) };
    const { single, truncationSide } = this.#tokenizer;
    const content = this.#encode(input);
    const length = content.length + single.specialCount;
    if (length > this.#maxTokens && !truncate) throw this.#tooLong(length);
    return single.assemble(keepTokens(content, this.#maxTokens - single.specialCount, truncationSide));
  }

  /**
   * The content tokens of a rerank query, tokenized once per request and paired with each of its
   * documents by `pair`.
   */
  query(text: string): Int32Array {
    return this.#encode(text);
  }

  /** A (query, document) pair for a cross-encoder, cut longest side first when too long. */
  pair(query: Int32Array, document: string, truncate: boolean): TokenSequence {
    const layout = this.#tokenizer.pair;
    if (layout === undefined) throw new Error('this tokenizer cannot encode text pairs');
    const second = this.#encode(document);
    const length = query.length + second.length + layout.specialCount;
    if (length <= this.#maxTokens) return layout.assemble(query, second);
    if (!truncate) throw this.#tooLong(length, 'query and document together are');
    const [firstKeep, secondKeep] = longestFirstLengths(query.length, second.length, this.#maxTokens - layout.specialCount);
    const side = this.#tokenizer.truncationSide;
    return layout.assemble(keepTokens(query, firstKeep, side), keepTokens(second, secondKeep, side));
  }

  /**
   * Content tokens of a text cut to the character bound first: tokens past the model's limit are
   * dropped anyway, and a megabyte string must not cost a megabyte of tokenizing. Each side of a
   * pair is cut alone, since either may keep all its tokens.
   */
  #encode(text: string): Int32Array {
    return this.#tokenizer.encodeContent(cutToCharacterBound(text, this.#maxTokens, this.#tokenizer.truncationSide));
  }

  #checkTokenIds(input: readonly number[], truncate: boolean): Int32Array {
    if (input.length === 0) throw new InvalidInputError('an empty token array cannot be embedded', 'input');
    if (input.length > this.#maxTokens && !truncate) throw this.#tooLong(input.length);
    const kept = Math.min(input.length, this.#maxTokens);
    const ids = new Int32Array(kept);
    const limit = this.vocabularySize;
    for (let i = 0; i < kept; i++) {
      const id = input[i];
      if (!Number.isInteger(id) || id < 0 || id >= limit) {
        throw new InvalidInputError(`token id ${id} is outside this model's vocabulary (0 to ${limit - 1})`, 'input');
      }
      ids[i] = id;
    }
    return ids;
  }

  #tooLong(length: number, subject = 'an input is'): InputTooLongError {
    return new InputTooLongError(`${subject} ${length} tokens long, more than the ${this.#maxTokens} tokens this model accepts`, 'input');
  }
}
