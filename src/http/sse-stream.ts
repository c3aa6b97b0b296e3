// Server-sent events: `data: <json>\n\n` frames as OpenAI's chat streams them, with an `event:`
// line where the format names its events (Responses, Anthropic Messages), and `data: [DONE]` where
// the format ends with it. What the frames say is the wire format's business (GenerationWire).
// Frames are written as soon as they are made: no buffering here, and X-Accel-Buffering tells
// proxies the same.
//
// Backpressure: once the socket's buffer is full, `send` returns a promise that settles when the
// client has read it (or left), and the generation waits on it. Without that, a client that read
// nothing had its whole generation held in memory (+105 MB for one n = 16, top_logprobs = 20
// stream). A client that reads nothing for `stallTimeoutMs` has its stream cut, which frees the slot.
import type { Context } from 'koa';

export interface SseStreamOptions {
  /** How long a full socket buffer may stay full before the stream is cut. */
  stallTimeoutMs?: number;
  /** Called when the stream is cut for that. */
  onStall?: () => void;
}

export class SseStream {
  private started = false;
  private ended = false;
  private keepAlive?: NodeJS.Timeout;
  private drained?: Promise<void>;

  constructor(
    private readonly ctx: Context,
    private readonly options: SseStreamOptions = {},
  ) {}

  get isOpen(): boolean {
    return this.started && !this.ended && !this.ctx.res.destroyed;
  }

  /** Sends the status line and headers; later failures can only be reported in-band. */
  start(): void {
    if (this.started) return;
    this.started = true;
    const { ctx } = this;
    ctx.respond = false;
    ctx.status = 200;
    ctx.res.statusCode = 200;
    ctx.res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    ctx.res.setHeader('cache-control', 'no-cache, no-transform');
    ctx.res.setHeader('connection', 'keep-alive');
    ctx.res.setHeader('x-accel-buffering', 'no');
    ctx.res.flushHeaders();
    // Nagle's algorithm would hold small frames back for up to 40 ms.
    ctx.req.socket.setNoDelay(true);
  }

  /** Comment lines keep proxies and clients from timing out while a long prompt is processed. */
  startKeepAlive(intervalMs = 10_000): void {
    this.stopKeepAlive();
    this.keepAlive = setInterval(() => this.writeRaw(': keep-alive\n\n'), intervalMs);
    this.keepAlive.unref();
  }

  stopKeepAlive(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }

  /**
   * Writes one frame (named `event` where the format names its events); a promise when the client
   * is behind, settling once it has caught up or left.
   */
  send(payload: unknown, event?: string): Promise<void> | undefined {
    // Plugins' onStreamChunk hooks (src/plugins/request-hooks.ts) may replace or drop a frame.
    const transform = this.ctx.state.sseTransform;
    const frame = transform ? transform(payload) : payload;
    if (frame === undefined) return undefined;
    const data = `data: ${JSON.stringify(frame)}\n\n`;
    return this.writeRaw(event === undefined ? data : `event: ${event}\n${data}`) ? undefined : this.whenDrained();
  }

  /** Ends a stream that finished normally, with `data: [DONE]` where the format has it. */
  done(withDoneFrame: boolean): void {
    if (withDoneFrame) this.writeRaw('data: [DONE]\n\n');
    this.end();
  }

  end(): void {
    this.stopKeepAlive();
    if (this.ended) return;
    this.ended = true;
    if (!this.ctx.res.destroyed) this.ctx.res.end();
  }

  /** False when the socket's buffer is full. */
  private writeRaw(text: string): boolean {
    if (!this.isOpen) return true;
    return this.ctx.res.write(text);
  }

  private whenDrained(): Promise<void> {
    this.drained ??= new Promise<void>((resolve) => {
      const { res } = this.ctx;
      const settle = () => {
        clearTimeout(stall);
        res.off('drain', settle);
        res.off('close', settle);
        this.drained = undefined;
        resolve();
      };
      // Cutting the socket fires 'close': the client's abort signal stops the generation.
      const stall = setTimeout(() => {
        this.options.onStall?.();
        res.destroy();
      }, this.options.stallTimeoutMs ?? 60_000);
      res.once('drain', settle);
      res.once('close', settle);
    });
    return this.drained;
  }
}
