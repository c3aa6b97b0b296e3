// How much text can matter to a model that takes `maxTokens` tokens: an input is cut to this many
// characters before it is tokenized, so a megabyte string costs what its first few thousand
// characters cost (a 1 MB string used to be tokenized whole, three times, blocking the event loop
// 12.5 s, only for all but its first 512 tokens to be thrown away).

/**
 * Characters one token stands for, at most, in text sent in earnest. Measured on the shared
 * models' tokenizers (BERT WordPiece, the same vocabulary as llama.cpp WPM, and the 512- and
 * 32,000-token llama SentencePiece vocabularies): English prose 3.2 characters per token (3.9 in
 * its worst 2,000-character window), TypeScript 3.4, JSON 2.1, URLs 2.7, base64 1.5, numbers 1.8,
 * CJK 1.0, code indented by 8 spaces 4.7, emoji under WordPiece 9 (each word one [UNK]). 16 is
 * three times the most any real text reached, so cutting at maxTokens × 16 characters leaves the
 * first maxTokens tokens, and so the result, unchanged. What it gives up: text that averages more
 * than 16 characters per token (long runs of whitespace, words over 100 characters that WordPiece
 * maps to one [UNK]) is cut, or with `truncate = false` refused, although its tokens might fit.
 * Cost at the bound: 8,192 characters for a 512-token model tokenize in about 7 ms.
 */
export const CHARACTERS_PER_TOKEN = 16;

/** The longest text, in UTF-16 code units, that can matter to a model taking `maxTokens` tokens. */
export function characterBound(maxTokens: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, maxTokens * CHARACTERS_PER_TOKEN);
}

/**
 * `text` cut to the character bound, keeping the end the model keeps when it truncates (the head,
 * or the tail for a tokenizer that truncates on the left). A string slice; nothing when it fits.
 */
export function cutToCharacterBound(text: string, maxTokens: number, side: 'left' | 'right' = 'right'): string {
  const bound = characterBound(maxTokens);
  if (text.length <= bound) return text;
  if (side === 'right') {
    // Not between the halves of a surrogate pair: a lone half would tokenize as another character.
    const end = isHighSurrogate(text.charCodeAt(bound - 1)) ? bound - 1 : bound;
    return text.slice(0, end);
  }
  const start = text.length - bound;
  return text.slice(isLowSurrogate(text.charCodeAt(start)) ? start + 1 : start);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
