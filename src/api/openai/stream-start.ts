// When a generation stream's status line and headers go out. Not when a choice gets its slot: the
// engine may still refuse the request then (a remote upstream's 400 for a prompt beyond its
// context, a 503 when its upstreams are gone), and a stream that has sent its 200 can only report
// that in an error frame. The headers go out with the engine's first event for any choice, or once
// the first choice has waited `waitMs` for one, whichever comes first: a long prompt then still
// gets its headers and keep-alive comments early enough for clients and proxies that time out a
// silent connection. Until then a failure is a plain HTTP error with its own status.
//
// A choice's opening frames (its role chunk, an echoed prefix) are written before its first
// delta: at once for a choice that starts on an open stream, at the opening for the others.
import type { SseStream } from '../../http/sse-stream.js';
import type { StreamFrame } from '../../openai/generation-wire.js';

/** How long a stream's headers wait for the engine's first event (see README, streaming). */
export const STREAM_START_WAIT_MS = 5_000;

export interface StreamStartSettings {
  sse: SseStream;
  /** The frames that open choice `index`, in order. */
  openingFrames(index: number): StreamFrame[];
  /** An aborted request opens no stream. */
  signal: AbortSignal;
  waitMs?: number;
}

export class StreamStart {
  /** Choices that started before the stream opened, in the order they did. */
  private readonly waiting: number[] = [];
  private timer?: NodeJS.Timeout;
  private opened = false;

  constructor(private readonly settings: StreamStartSettings) {}

  /** A choice holds its slot, before it generates. */
  choiceStarted(index: number): Promise<void> | undefined {
    if (this.opened) return this.writeOpenings([index]);
    this.waiting.push(index);
    this.timer ??= setTimeout(() => void this.open(), this.settings.waitMs ?? STREAM_START_WAIT_MS);
    return undefined;
  }

  /**
   * Opens the stream when it is not open yet; call before writing a choice's frames. The opening
   * frames are written synchronously, so whatever the caller writes next comes after them.
   */
  open(): Promise<void> | undefined {
    if (this.opened || this.settings.signal.aborted) return undefined;
    this.opened = true;
    this.stop();
    const { sse } = this.settings;
    sse.start();
    sse.startKeepAlive();
    return this.writeOpenings(this.waiting.splice(0));
  }

  /** No opening after the generation ended. */
  stop(): void {
    clearTimeout(this.timer);
  }

  private writeOpenings(indexes: number[]): Promise<void> | undefined {
    const pending: Array<Promise<void>> = [];
    for (const index of indexes) {
      for (const frame of this.settings.openingFrames(index)) {
        const written = this.settings.sse.send(frame.data, frame.event);
        if (written) pending.push(written);
      }
    }
    return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
  }
}
