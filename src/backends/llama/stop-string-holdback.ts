// Streams generated text while guaranteeing that no stop string reaches the client: text that
// could still turn out to be the start of a stop string is held back until the next piece decides.
// It can also drop leading whitespace (chat replies) and hold back trailing whitespace (grammars
// whose output is trimmed), so that the streamed pieces always add up to the final text.

export interface HoldbackOptions {
  trimLeadingWhitespace?: boolean;
  trimTrailingWhitespace?: boolean;
}

export interface HoldbackOutput {
  /** Text that is now final. */
  text: string;
  /** A stop string was found; nothing more will be released. */
  stopped: boolean;
}

export class StopStringHoldback {
  readonly #stops: string[];
  readonly #longestStop: number;
  readonly #trimLeading: boolean;
  readonly #trimTrailing: boolean;
  #buffer = '';
  #started = false;
  #stopped = false;
  #leadingTrimmed = 0;
  #stoppedBy: string | undefined;

  constructor(stops: readonly string[], options: HoldbackOptions = {}) {
    this.#stops = [...new Set(stops.filter((stop) => stop !== ''))];
    this.#longestStop = this.#stops.reduce((longest, stop) => Math.max(longest, stop.length), 0);
    this.#trimLeading = options.trimLeadingWhitespace ?? false;
    this.#trimTrailing = options.trimTrailingWhitespace ?? false;
  }

  /** The stop string that ended the text (undefined until one did). */
  get stoppedBy(): string | undefined {
    return this.#stoppedBy;
  }

  /** Characters dropped from the start (for mapping text offsets back to tokens). */
  get leadingTrimmed(): number {
    return this.#leadingTrimmed;
  }

  push(piece: string): HoldbackOutput {
    if (this.#stopped) return { text: '', stopped: true };
    let text = piece;
    if (this.#trimLeading && !this.#started) {
      const trimmed = text.trimStart();
      this.#leadingTrimmed += text.length - trimmed.length;
      text = trimmed;
      if (text === '') return { text: '', stopped: false };
    }
    this.#started = true;
    this.#buffer += text;

    const { index: stopAt, stop } = this.#firstStop();
    if (stopAt >= 0) {
      this.#stopped = true;
      this.#stoppedBy = stop;
      let released = this.#buffer.slice(0, stopAt);
      if (this.#trimTrailing) released = released.trimEnd();
      this.#buffer = '';
      return { text: released, stopped: true };
    }

    let holdFrom = this.#buffer.length - this.#possibleStopStartLength();
    if (this.#trimTrailing) holdFrom = Math.min(holdFrom, this.#buffer.trimEnd().length);
    const released = this.#buffer.slice(0, holdFrom);
    this.#buffer = this.#buffer.slice(holdFrom);
    return { text: released, stopped: false };
  }

  /** End of generation: the last piece, then everything still held (a partial stop string is plain text). */
  finish(lastPiece = ''): HoldbackOutput {
    const output = this.push(lastPiece);
    if (output.stopped) return output;
    let rest = this.#buffer;
    if (this.#trimTrailing) rest = rest.trimEnd();
    this.#buffer = '';
    return { text: output.text + rest, stopped: false };
  }

  /** The earliest stop string in the buffer (index -1: none). */
  #firstStop(): { index: number; stop?: string } {
    let first: { index: number; stop?: string } = { index: -1 };
    for (const stop of this.#stops) {
      const index = this.#buffer.indexOf(stop);
      if (index >= 0 && (first.index < 0 || index < first.index)) first = { index, stop };
    }
    return first;
  }

  /** Length of the longest end of the buffer that some stop string begins with. */
  #possibleStopStartLength(): number {
    for (let length = Math.min(this.#buffer.length, this.#longestStop - 1); length > 0; length--) {
      const tail = this.#buffer.slice(-length);
      if (this.#stops.some((stop) => stop.startsWith(tail))) return length;
    }
    return 0;
  }
}
