// `max_token_seconds` on llama-server: the time from one generated token's frame to the next may not
// exceed the model's limit, for a generation with a grammar (see generation.ts for why only those). The gateway cannot see inside the server's step, so it waits for the
// next frame against a timer; when the timer fires it closes the connection (llama-server cancels
// the task once the step in flight is done, freeing its slot) and the generation ends with the
// same 504 `generation_timeout` as on the in-process engine. The first token is not timed (its
// step evaluates the prompt, bounded by the context and `max_generation_seconds`), nor the time the
// gateway itself holds frames back for a client that reads slowly.
import { TokenTimeoutError } from '../../engine/errors.js';

export class TokenWatchdog {
  #timer: NodeJS.Timeout | undefined;
  #armedAt = 0;
  #fired: TokenTimeoutError | undefined;

  constructor(
    private readonly limitSeconds: number,
    private readonly onTimeout: (error: TokenTimeoutError) => void,
  ) {}

  /** The error it fired with, if it did. */
  get fired(): TokenTimeoutError | undefined {
    return this.#fired;
  }

  /** Waits for the next token from now on. */
  arm(): void {
    this.disarm();
    if (this.limitSeconds === Infinity) return;
    this.#armedAt = performance.now();
    this.#timer = setTimeout(() => {
      this.#fired = new TokenTimeoutError((performance.now() - this.#armedAt) / 1000, this.limitSeconds);
      this.onTimeout(this.#fired);
    }, this.limitSeconds * 1000);
  }

  /** Not waiting for a token (the reader is behind, or the generation ended). */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
