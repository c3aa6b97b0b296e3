// A small LRU of text → token ids. An embedding request is tokenized up to three times (the
// route counts usage, the batcher groups by length, the adapter builds tensors); with this
// cache only the first pays, and a rerank query is tokenized once for all its documents.
export class EncodingCache {
  readonly #entries = new Map<string, Int32Array>();
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  #bytes = 0;

  /** `maxBytes` bounds the ids and the (UTF-16) keys together. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
    this.#maxEntryBytes = Math.floor(maxBytes / 16);
  }

  get(text: string): Int32Array | undefined {
    const ids = this.#entries.get(text);
    if (ids === undefined) return undefined;
    this.#entries.delete(text);
    this.#entries.set(text, ids);
    return ids;
  }

  set(text: string, ids: Int32Array): void {
    const size = entryBytes(text, ids);
    if (size > this.#maxEntryBytes || this.#entries.has(text)) return;
    this.#entries.set(text, ids);
    this.#bytes += size;
    for (const [oldest, oldestIds] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entryBytes(oldest, oldestIds);
    }
  }
}

function entryBytes(text: string, ids: Int32Array): number {
  return text.length * 2 + ids.byteLength + 64;
}
