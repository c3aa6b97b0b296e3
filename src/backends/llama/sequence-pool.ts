// The sequences of one llama.cpp context, lent one per generation. All sequences share the
// context's batch, so concurrent generations are decoded together (continuous batching).
import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp';

export interface SequenceLease {
  readonly sequence: LlamaContextSequence;
  release(): void;
}

interface Waiter {
  promptTokens: readonly Token[] | undefined;
  resolve(lease: SequenceLease): void;
  reject(reason: unknown): void;
  detach(): void;
}

export class SequencePool {
  readonly #free: LlamaContextSequence[] = [];
  readonly #waiters: Waiter[] = [];
  readonly size: number;
  #closed = false;
  #pendingEdits = 0;
  #editsSettled: { promise: Promise<void>; resolve(): void } | undefined;

  constructor(context: LlamaContext) {
    this.size = context.totalSequences;
    for (let index = 0; index < this.size; index++) this.#free.push(context.getSequence());
  }

  get available(): number {
    return this.#free.length;
  }

  /**
   * A free sequence, preferring the one whose cached state shares the longest prefix with the
   * prompt (a follow-up chat turn then evaluates only its new messages). Waits when all are lent
   * (the scheduler normally prevents that); rejects with the signal's reason when aborted first.
   */
  acquire(promptTokens: readonly Token[] | undefined, signal?: AbortSignal): Promise<SequenceLease> {
    if (this.#closed) return Promise.reject(new Error('the model has been unloaded'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#free.length > 0) return Promise.resolve(this.#lease(this.#takeBest(promptTokens)));
    return new Promise<SequenceLease>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        promptTokens,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Runs an edit of a lent sequence's cached state (erasing tokens). Such edits take the
   * context's lock, and node-llama-cpp's batch loop holds that lock from batch to batch for as
   * long as it finds a token queued when a batch ends. Running generations queue their next token
   * within microtasks of getting the last one, so with two or more of them the loop would only end
   * when they all had finished, and the edit (with the request behind it) would wait that long.
   * So while an edit is pending, generations hold back their next token (`stateEditsSettled`):
   * the loop ends after the batch in flight, the edit runs, and they carry on.
   */
  async editState<T>(edit: () => Promise<T>): Promise<T> {
    this.#pendingEdits++;
    try {
      return await edit();
    } finally {
      if (--this.#pendingEdits === 0 && this.#editsSettled !== undefined) {
        const { resolve } = this.#editsSettled;
        this.#editsSettled = undefined;
        resolve();
      }
    }
  }

  /** Resolves once no state edit is pending; undefined when none is (the common case, no await). */
  stateEditsSettled(): Promise<void> | undefined {
    if (this.#pendingEdits === 0) return undefined;
    if (this.#editsSettled === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      this.#editsSettled = { promise, resolve };
    }
    return this.#editsSettled.promise;
  }

  /** Rejects the waiters; lent sequences are left to their generations, which the context's disposal ends. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.detach();
      waiter.reject(new Error('the model has been unloaded'));
    }
  }

  #takeBest(promptTokens: readonly Token[] | undefined): LlamaContextSequence {
    let bestIndex = 0;
    if (promptTokens !== undefined && promptTokens.length > 0) {
      let bestShared = -1;
      for (let index = 0; index < this.#free.length; index++) {
        const shared = this.#free[index].compareContextTokens(promptTokens as Token[]).firstDifferentIndex;
        if (shared > bestShared) {
          bestShared = shared;
          bestIndex = index;
        }
      }
    }
    return this.#free.splice(bestIndex, 1)[0];
  }

  #lease(sequence: LlamaContextSequence): SequenceLease {
    let released = false;
    return {
      sequence,
      release: () => {
        if (released) return;
        released = true;
        this.#giveBack(sequence);
      },
    };
  }

  #giveBack(sequence: LlamaContextSequence): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#free.push(sequence);
      return;
    }
    waiter.detach();
    waiter.resolve(this.#lease(sequence));
  }
}
