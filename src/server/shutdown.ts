// A gateway's shutdown has two moments: it begins (new work is refused, /ready answers 503), and,
// once the grace period is over, the work still running is ended through the signal.
import { setMaxListeners } from 'node:events';

export class Shutdown {
  #begun = false;
  readonly #graceOver = new AbortController();

  constructor() {
    // Every request in flight listens on it (see src/http/client-abort.ts): thousands are not a leak.
    setMaxListeners(0, this.#graceOver.signal);
  }

  get begun(): boolean {
    return this.#begun;
  }

  /** Aborted when the grace period is over. */
  get signal(): AbortSignal {
    return this.#graceOver.signal;
  }

  begin(): void {
    this.#begun = true;
  }

  endRunningWork(): void {
    this.#graceOver.abort();
  }
}
