// Appends lines to a file without ever making the caller wait: `write` only queues the line;
// the queue is written in one go on the next turn of the event loop, and while a write is in
// flight new lines gather for the next. The file rotates by size (FILE → FILE.1 → … → FILE.N).
// When the disk cannot keep up, lines beyond `maxBufferedBytes` are dropped and counted, rather
// than memory growing without bound.
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../../src/logger.js';

export interface RotatingFileWriterOptions {
  /** Rotate before the file would grow past this many bytes. */
  maxBytes: number;
  /** Rotated files kept beside the live one. */
  maxFiles: number;
  /** Bytes that may wait for the disk; more are dropped. */
  maxBufferedBytes: number;
  logger: Logger;
}

export class RotatingFileWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private handle?: FileHandle;
  private size = 0;
  private draining?: Promise<void>;
  private scheduled = false;
  private dropped = 0;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly options: RotatingFileWriterOptions,
  ) {}

  /** Queues one line (a newline is added). Never throws, never waits. */
  write(line: string): void {
    if (this.closed) return;
    const bytes = Buffer.byteLength(line) + 1;
    if (this.pendingBytes + bytes > this.options.maxBufferedBytes) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += bytes;
    if (!this.scheduled && !this.draining) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.startDrain();
      });
    }
  }

  /** Resolves once every line queued so far is on disk (or was given up on). */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.draining) {
      this.startDrain();
      await this.draining;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }

  private startDrain(): void {
    if (this.draining || this.pending.length === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending.length > 0) this.startDrain();
    });
  }

  private async drain(): Promise<void> {
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (this.dropped > 0) {
      this.options.logger.warn({ file: this.file, dropped: this.dropped }, 'audit lines dropped: the disk did not keep up');
      this.dropped = 0;
    }
    try {
      let batch: string[] = [];
      let batchBytes = 0;
      for (const line of lines) {
        const bytes = Buffer.byteLength(line) + 1;
        if (batch.length > 0 && this.size + batchBytes + bytes > this.options.maxBytes) {
          await this.append(batch.join('\n') + '\n', batchBytes);
          batch = [];
          batchBytes = 0;
        }
        if (this.size > 0 && this.size + batchBytes + bytes > this.options.maxBytes) await this.rotate();
        batch.push(line);
        batchBytes += bytes;
      }
      if (batch.length > 0) await this.append(batch.join('\n') + '\n', batchBytes);
    } catch (error) {
      this.options.logger.error({ file: this.file, err: error, lost: lines.length }, 'audit log write failed');
      await this.handle?.close().catch(() => undefined);
      this.handle = undefined;
    }
  }

  private async append(text: string, bytes: number): Promise<void> {
    if (!this.handle) {
      this.handle = await open(this.file, 'a');
      this.size = (await this.handle.stat()).size;
      if (this.size > 0 && this.size + bytes > this.options.maxBytes) {
        await this.rotate();
        this.handle = await open(this.file, 'a');
      }
    }
    await this.handle.write(text);
    this.size += bytes;
  }

  private async rotate(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    const { maxFiles } = this.options;
    await rm(`${this.file}.${maxFiles}`, { force: true });
    for (let index = maxFiles - 1; index >= 1; index--) {
      const from = `${this.file}.${index}`;
      if (
        await stat(from).then(
          () => true,
          () => false,
        )
      )
        await rename(from, `${this.file}.${index + 1}`);
    }
    await rename(this.file, `${this.file}.1`).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    this.size = 0;
  }
}
