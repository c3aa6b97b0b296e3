// Server-sent events as OpenAI streams them: `data: <json>\n\n` frames, `data: [DONE]` after a
// normal finish, one `data: {"error": ...}` frame after a failure. Frames are written as soon as
// they are made: no buffering here, and X-Accel-Buffering tells proxies the same.
import type { Context } from 'koa';
import type { GatewayError } from '../errors.js';

export class SseStream {
  private started = false;
  private ended = false;
  private keepAlive?: NodeJS.Timeout;

  constructor(private readonly ctx: Context) {}

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

  send(payload: unknown): void {
    // Plugins' onStreamChunk hooks (src/plugins/request-hooks.ts) may replace or drop a frame.
    const transform = this.ctx.state.sseTransform as ((payload: unknown) => unknown) | undefined;
    const frame = transform ? transform(payload) : payload;
    if (frame === undefined) return;
    this.writeRaw(`data: ${JSON.stringify(frame)}\n\n`);
  }

  /** Ends a stream that finished normally. */
  done(): void {
    this.writeRaw('data: [DONE]\n\n');
    this.end();
  }

  /** Ends a stream that failed after its headers went out. */
  fail(error: GatewayError): void {
    this.send(error.toJSON());
    this.end();
  }

  end(): void {
    this.stopKeepAlive();
    if (this.ended) return;
    this.ended = true;
    if (!this.ctx.res.destroyed) this.ctx.res.end();
  }

  private writeRaw(text: string): void {
    if (!this.isOpen) return;
    this.ctx.res.write(text);
  }
}
