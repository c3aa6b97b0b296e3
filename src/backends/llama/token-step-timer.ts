// Times each step of one generation against the model's per-token limit (`max_token_seconds`).
//
// A step cannot be interrupted: llama.cpp decodes and then samples in native code, and a grammar
// whose parse stacks multiply makes each token cost several times the one before (measured on 2
// cores: 60, 200, 664, 3,117 ms for tokens 12 to 15). The request's own limit
// (`max_generation_seconds`) fires only once the step in flight is over, and meanwhile every other
// request on the model waits, since node-llama-cpp decodes again only when every sequence's sampler is
// done. Stopping the generation before it asks for another token once one step went over the limit
// bounds such a runaway to about one step past the limit.
//
// A step runs from the moment this sequence asks for its next token to the moment its token is
// handed over: the decode it shares with the other sequences, then its own sampling. Another
// sequence's slow sampler is not in it: node-llama-cpp hands each sequence its token as soon as its
// own sampler is done, and the wait for the slow one happens in DecodeRounds, before the next ask.
// The first token is not timed: its step evaluates the prompt, which is bounded by the context size
// and by `max_generation_seconds`.
import { TokenTimeoutError } from '../../engine/errors.js';

export class TokenStepTimer {
  #askedAt: number | undefined;
  #lastStepMs = 0;

  constructor(
    readonly limitMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The sequence asks for its next token (after any wait for the others). */
  asking(): void {
    this.#askedAt = this.now();
  }

  /** Its token was handed over. */
  received(): void {
    if (this.#askedAt !== undefined) this.#lastStepMs = this.now() - this.#askedAt;
    this.#askedAt = undefined;
  }

  /** Before anything waits to ask for another token: throws when the last step took longer than the limit. */
  assertLastStepWithinLimit(): void {
    if (this.#lastStepMs > this.limitMs) throw new TokenTimeoutError(this.#lastStepMs / 1000, this.limitMs / 1000);
  }
}
