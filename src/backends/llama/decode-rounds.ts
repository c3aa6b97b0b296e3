// Lines up the sequences of one context that are generating, so that they ask for their next token
// together and llama.cpp decodes all of them in one batch.
//
// node-llama-cpp samples each sequence's token separately and hands it over as soon as it is
// drawn; its batch loop then starts the next decode at once with whichever sequences have already
// asked again. With four streams that settled into batches of three, the fourth sequence always one
// batch behind (measured: 496 of 512 batches held 3 tokens), so every step paid for two decodes.
// Holding each token's requester until every generating sequence has its token, and releasing them
// together one event-loop turn later (after the batch loop has found nothing queued and let go of
// the context), gives one decode of all the sequences per step, as llama.cpp's own server does.
//
// Only sequences past their prompt take part: a request still evaluating a long prompt would
// otherwise hold every stream for its whole prompt. A sequence alone never waits.
export class DecodeRounds {
  readonly #members = new Set<object>();
  readonly #arrived = new Map<object, () => void>();
  #releaseScheduled = false;

  /** Sequences that take part in the rounds now. */
  get size(): number {
    return this.#members.size;
  }

  /** `member` has its first generated token: from now on it waits for the others at each token. */
  join(member: object): void {
    this.#members.add(member);
  }

  /** `member` stopped generating: nobody waits for it any more. */
  leave(member: object): void {
    if (!this.#members.delete(member)) return;
    const resolve = this.#arrived.get(member);
    this.#arrived.delete(member);
    resolve?.();
    this.#releaseWhenComplete();
  }

  /**
   * `member` has its token for this round. Resolves once every member has its own; undefined when
   * there is nobody to wait for.
   */
  arrive(member: object): Promise<void> | undefined {
    if (!this.#members.has(member) || this.#members.size <= 1) return undefined;
    return new Promise((resolve) => {
      this.#arrived.set(member, resolve);
      this.#releaseWhenComplete();
    });
  }

  #releaseWhenComplete(): void {
    if (this.#releaseScheduled || this.#arrived.size === 0 || this.#arrived.size < this.#members.size) return;
    this.#releaseScheduled = true;
    // A turn later, not now: node-llama-cpp's batch loop looks for queued decodes right after it has
    // handed out the tokens, and would start a batch with the first sequence to ask again.
    setImmediate(() => {
      this.#releaseScheduled = false;
      const waiting = [...this.#arrived.values()];
      this.#arrived.clear();
      for (const resolve of waiting) resolve();
    });
  }
}
