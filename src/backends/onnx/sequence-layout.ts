// Where a tokenizer puts its special tokens around one text or a pair ([CLS] A [SEP] B [SEP] for
// BERT, <s> A </s></s> B </s> for RoBERTa), learnt once at load by probing the tokenizer.
//
// Why not let the tokenizer add them per call: transformers.js truncates by cutting the finished
// sequence, so a long input loses its final [SEP], and a pair loses the document's end rather than
// the longer side (Python/Rust `tokenizers`, which TEI and sentence-transformers use, keep the
// special tokens and cut the content, longest side first). With the layout, the content is
// tokenized once, cut exactly as those libraries do, and wrapped here.

/** Token ids as they go to the model; `typeIds` undefined means all zero. */
export interface TokenSequence {
  ids: Int32Array;
  typeIds?: Int32Array;
}

type LayoutPart = { special: true; id: number; typeId: number } | { special: false; which: 0 | 1; typeId: number };

export class SequenceLayout {
  readonly specialCount: number;
  readonly #parts: LayoutPart[];
  readonly #hasTypeIds: boolean;

  constructor(parts: LayoutPart[]) {
    this.#parts = parts;
    this.specialCount = parts.filter((part) => part.special).length;
    this.#hasTypeIds = parts.some((part) => part.typeId !== 0);
  }

  assemble(first: Int32Array, second?: Int32Array): TokenSequence {
    const length = this.specialCount + first.length + (second?.length ?? 0);
    const ids = new Int32Array(length);
    const typeIds = this.#hasTypeIds ? new Int32Array(length) : undefined;
    let at = 0;
    for (const part of this.#parts) {
      if (part.special) {
        ids[at] = part.id;
        if (typeIds !== undefined) typeIds[at] = part.typeId;
        at += 1;
        continue;
      }
      const content = part.which === 0 ? first : second;
      if (content === undefined) continue;
      ids.set(content, at);
      if (typeIds !== undefined && part.typeId !== 0) typeIds.fill(part.typeId, at, at + content.length);
      at += content.length;
    }
    return { ids, typeIds };
  }
}

export interface ProbeEncoding {
  ids: readonly number[];
  typeIds?: readonly number[];
}

/**
 * Reads the layout off a probe encoding: `withSpecials` is the tokenizer's own output for the
 * probe text(s); `contents` the same texts tokenized without special tokens. The result is checked
 * by rebuilding the probe, so a tokenizer whose output is not "specials around contents" fails
 * at load rather than silently at request time.
 */
export function readLayout(withSpecials: ProbeEncoding, contents: Int32Array[]): SequenceLayout {
  const parts: LayoutPart[] = [];
  let at = 0;
  contents.forEach((content, which) => {
    const start = indexOfSequence(withSpecials.ids, content, at);
    if (start < 0) throw new Error('cannot find the text inside the tokenizer output');
    for (; at < start; at++) parts.push({ special: true, id: withSpecials.ids[at], typeId: withSpecials.typeIds?.[at] ?? 0 });
    parts.push({ special: false, which: which as 0 | 1, typeId: withSpecials.typeIds?.[start] ?? 0 });
    at = start + content.length;
  });
  for (; at < withSpecials.ids.length; at++) parts.push({ special: true, id: withSpecials.ids[at], typeId: withSpecials.typeIds?.[at] ?? 0 });

  const layout = new SequenceLayout(parts);
  const rebuilt = layout.assemble(contents[0], contents[1]);
  const sameIds = rebuilt.ids.length === withSpecials.ids.length && rebuilt.ids.every((id, i) => id === withSpecials.ids[i]);
  const sameTypes = withSpecials.typeIds === undefined || withSpecials.typeIds.every((type, i) => type === (rebuilt.typeIds?.[i] ?? 0));
  if (!sameIds || !sameTypes) throw new Error('the tokenizer output is not its special tokens around the text');
  return layout;
}

function indexOfSequence(haystack: readonly number[], needle: Int32Array, from: number): number {
  outer: for (let start = from; start + needle.length <= haystack.length; start++) {
    for (let i = 0; i < needle.length; i++) if (haystack[start + i] !== needle[i]) continue outer;
    return start;
  }
  return -1;
}

/** Keeps `keep` tokens of `ids`: the head, or the tail for tokenizers configured to truncate left. */
export function keepTokens(ids: Int32Array, keep: number, side: 'left' | 'right'): Int32Array {
  if (ids.length <= keep) return ids;
  return side === 'right' ? ids.subarray(0, keep) : ids.subarray(ids.length - keep);
}

/**
 * Lengths of a pair after `longest_first` truncation to `budget` content tokens, exactly as the
 * Rust `tokenizers` library computes them (TEI and sentence-transformers use it): the shorter
 * side stays whole when cutting the longer is enough; otherwise each gets half, the longer side
 * (or, on a tie, the second) the odd token.
 */
export function longestFirstLengths(first: number, second: number, budget: number): [number, number] {
  if (first + second <= budget) return [first, second];
  const swapped = first > second;
  let shorter = swapped ? second : first;
  let longer = shorter > budget ? shorter : Math.max(shorter, budget - shorter);
  if (shorter + longer > budget) {
    shorter = Math.floor(budget / 2);
    longer = shorter + (budget % 2);
  }
  return swapped ? [longer, shorter] : [shorter, longer];
}
