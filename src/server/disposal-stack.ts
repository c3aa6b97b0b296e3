// What a gateway is made of, disposed in the reverse order it was made (the registry before the
// limiter store its requests count in, the plugins whose backends it loaded last), whether the
// gateway closes or fails to start.
export class DisposalStack {
  readonly #disposers: Array<() => void | Promise<void>> = [];

  /** Registers how to dispose of what was just made. */
  defer(dispose: () => void | Promise<void>): void {
    this.#disposers.push(dispose);
  }

  /** Disposes everything, last made first; one failing does not keep the others alive: the first error is thrown after all ran. */
  async dispose(): Promise<void> {
    const failures: unknown[] = [];
    for (let dispose = this.#disposers.pop(); dispose; dispose = this.#disposers.pop()) {
      try {
        await dispose();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
