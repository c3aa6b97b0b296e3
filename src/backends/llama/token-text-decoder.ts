// Turns generated tokens into text as they arrive. Byte-fallback vocabularies spell one character
// over several tokens, and a lone piece decodes to U+FFFD, so tokens are held until they decode
// to whole characters. A SentencePiece token's leading space is dropped when it is decoded alone,
// so each piece is decoded after the tokens that precede it.
import type { LlamaModel, Token } from 'node-llama-cpp';

const REPLACEMENT_CHARACTER = '\uFFFD';
/** A UTF-8 character is at most 4 bytes, so at most 4 byte tokens; beyond that the bytes are truly invalid. */
const MAX_HELD_TOKENS = 4;
/** Enough preceding tokens for the tokenizer to decide spacing. */
const CONTEXT_TOKENS = 8;

export class TokenTextDecoder {
  readonly #model: LlamaModel;
  #context: Token[];
  #held: Token[] = [];
  #decodedLength = 0;

  constructor(model: LlamaModel, precedingTokens: readonly Token[]) {
    this.#model = model;
    this.#context = precedingTokens.slice(-CONTEXT_TOKENS);
  }

  /** Characters of text produced so far (for mapping tokens to text offsets). */
  get decodedLength(): number {
    return this.#decodedLength;
  }

  /** The text this token completes; "" while it is part of an unfinished character. */
  push(token: Token): string {
    this.#held.push(token);
    const text = this.#decodeHeld();
    if (text.endsWith(REPLACEMENT_CHARACTER) && this.#held.length < MAX_HELD_TOKENS) return '';
    return this.#commit(text);
  }

  /** Whatever is still held, at the end of generation. */
  flush(): string {
    if (this.#held.length === 0) return '';
    return this.#commit(this.#decodeHeld());
  }

  #decodeHeld(): string {
    return this.#model.detokenize(this.#held, false, this.#context);
  }

  #commit(text: string): string {
    this.#context = [...this.#context, ...this.#held].slice(-CONTEXT_TOKENS);
    this.#held = [];
    this.#decodedLength += text.length;
    return text;
  }
}
