// Downloads one model file over HTTP(S). Bytes go to `<destination>.partial` beside the destination
// (same folder, so same filesystem, so the final rename is atomic); a cut connection resumes with
// `Range`; the SHA-256 covers the whole file, resumed part included; the destination path only
// ever holds a complete, verified file.
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { parseContentRange } from './content-range.js';
import type { DownloadProgress } from './download-progress.js';
import { displayUrl, parseDownloadUrl, resolveDownloadTarget } from './download-target.js';
import { hashFileInto, normalizeSha256, sha256OfFile } from './file-sha256.js';

export { progressReporter, type DownloadProgress, type ProgressReporter } from './download-progress.js';

export interface DownloadOptions {
  /** The file's http: or https: URL. Redirects are followed. */
  url: string;
  /**
   * The file to create, or a directory (existing, or written with a trailing separator) to create
   * it in under the URL's last path segment.
   */
  destination: string;
  /** Expected SHA-256, 64 hex digits. Default: none, and then only the length is checked. */
  sha256?: string;
  logger: Logger;
  /** Stops the download and keeps the `.partial` file, so that a later call resumes it. */
  signal?: AbortSignal;
  /**
   * Requests in a row that may fail (network error, 408, 429, 5xx) without bringing new bytes
   * before the download gives up; a request that grows the partial file resets the count, so a
   * large file on a flaky link still finishes. Default 5.
   */
  maxAttempts?: number;
  /** Wait before the first retry, doubled for each further one up to 30 s. Default 1000 ms. */
  retryDelayMs?: number;
  /** Called after every chunk written; `progressReporter` turns it into a bar or log lines. */
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadResult {
  /** Absolute path of the downloaded file. */
  path: string;
  bytes: number;
  /** SHA-256 of the whole file, lowercase hex. */
  sha256: string;
  /** True when bytes from an earlier, interrupted request were kept. */
  resumed: boolean;
}

/** A failure that another request may cure. `delayMs` overrides the backoff (0 after a reset). */
class TransientDownloadError extends Error {
  constructor(
    message: string,
    readonly delayMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransientDownloadError';
  }
}

interface DownloadJob {
  url: URL;
  partial: string;
  expected?: string;
  signal?: AbortSignal;
  logger: Logger;
  onProgress?: (progress: DownloadProgress) => void;
}

interface CompletedPartial {
  bytes: number;
  sha256: string;
  resumed: boolean;
}

const MAX_RETRY_DELAY_MS = 30_000;
/** A server's Retry-After is honoured up to this; beyond it, backoff decides. */
const MAX_RETRY_AFTER_MS = 60_000;

export async function downloadModel(options: DownloadOptions): Promise<DownloadResult> {
  const url = parseDownloadUrl(options.url);
  const expected = options.sha256 === undefined ? undefined : normalizeSha256(options.sha256);
  const maxAttempts = options.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  const target = await resolveDownloadTarget(url, options.destination);
  const logger = options.logger.child({ url: displayUrl(url), path: target });
  options.signal?.throwIfAborted();

  const existing = await reuseExisting(target, expected, logger);
  if (existing) return existing;

  await mkdir(path.dirname(target), { recursive: true });
  const job: DownloadJob = { url, partial: `${target}.partial`, expected, signal: options.signal, logger, onProgress: options.onProgress };
  const started = performance.now();
  let kept = await sizeOf(job.partial);
  logger.info({ resume_from: kept || undefined }, 'downloading');

  let failures = 0;
  let completed: CompletedPartial;
  for (;;) {
    try {
      completed = await fetchIntoPartial(job);
      break;
    } catch (error) {
      if (!(error instanceof TransientDownloadError) || options.signal?.aborted) throw error;
      const size = await sizeOf(job.partial);
      if (size > kept) failures = 0;
      kept = Math.max(kept, size);
      failures += 1;
      if (failures >= maxAttempts) {
        throw new Error(`download of ${displayUrl(url)} failed after ${failures} attempts: ${error.message}`, { cause: error });
      }
      const delayMs = error.delayMs ?? backoff(failures, options.retryDelayMs ?? 1000);
      logger.warn({ attempt: failures, max_attempts: maxAttempts, delay_ms: delayMs, reason: error.message }, 'download interrupted; retrying');
      await sleep(delayMs, undefined, { signal: options.signal });
    }
  }

  if (expected !== undefined && completed.sha256 !== expected) {
    await rm(job.partial, { force: true });
    throw new Error(`sha256 mismatch for ${displayUrl(url)}: expected ${expected}, got ${completed.sha256}; the download was deleted`);
  }
  // The partial file was fsynced before this, so the rename can never expose a file whose data
  // is still only in the page cache; syncing the folder makes the rename itself survive a crash.
  await rename(job.partial, target);
  await syncDirectory(path.dirname(target));
  const seconds = (performance.now() - started) / 1000;
  logger.info({ bytes: completed.bytes, sha256: completed.sha256, resumed: completed.resumed, seconds: Number(seconds.toFixed(3)) }, 'download complete');
  return { path: target, ...completed };
}

/** An existing destination is kept when its digest matches, or when no digest was asked for. */
async function reuseExisting(target: string, expected: string | undefined, logger: Logger): Promise<DownloadResult | undefined> {
  const info = await stat(target).catch(ignoreMissing);
  if (!info) return undefined;
  if (!info.isFile()) throw new Error(`${target} exists and is not a file`);
  const digest = await sha256OfFile(target);
  if (expected !== undefined && digest !== expected) {
    logger.warn({ expected, actual: digest }, 'existing file does not match the sha256; downloading it again');
    return undefined;
  }
  logger.info({ bytes: info.size, sha256: digest }, 'already downloaded');
  return { path: target, bytes: info.size, sha256: digest, resumed: false };
}

/** One request: appends to (or restarts) the partial file and returns it complete and fsynced. */
async function fetchIntoPartial(job: DownloadJob): Promise<CompletedPartial> {
  const offset = await sizeOf(job.partial);
  // identity: a Range counts bytes of the encoded body, and fetch would decode gzip behind our back.
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  let response: Response;
  try {
    response = await fetch(job.url, { headers, signal: job.signal, redirect: 'follow' });
  } catch (error) {
    throw transient(error, job.signal);
  }

  if (response.status === 416 && offset > 0) {
    await discardBody(response);
    return completeUnsatisfiedRange(job, offset, parseContentRange(response.headers.get('content-range'))?.total);
  }
  let append: boolean;
  let total: number | undefined;
  if (response.status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (range?.start !== offset) {
      await discardBody(response);
      await rm(job.partial, { force: true });
      throw new TransientDownloadError(`asked for bytes from ${offset}, got Content-Range "${response.headers.get('content-range')}"; starting over`, 0);
    }
    append = true;
    total = range.total;
  } else if (response.status === 200) {
    if (offset > 0) job.logger.info({ discarded_bytes: offset }, 'server ignored the Range request; starting over');
    append = false;
    total = contentLength(response);
  } else {
    await discardBody(response);
    throw statusError(job.url, response);
  }

  const handle = await open(job.partial, append ? 'a' : 'w');
  try {
    const hash = createHash('sha256');
    let received = 0;
    if (append) {
      await hashFileInto(hash, job.partial, offset);
      received = offset;
    }
    job.onProgress?.({ received, total });
    const reader = response.body?.getReader();
    let ended = reader === undefined;
    try {
      while (!ended) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader!.read();
        } catch (error) {
          throw transient(error, job.signal);
        }
        if (next.done) {
          ended = true;
          break;
        }
        // Write before hashing, so the digest never covers bytes that did not reach the file.
        await handle.write(next.value);
        hash.update(next.value);
        received += next.value.byteLength;
        job.onProgress?.({ received, total });
      }
    } finally {
      // A local failure (a full disk) leaves the body unread; cancelling frees the socket.
      if (!ended) await reader?.cancel().catch(() => undefined);
    }
    if (total !== undefined && received !== total) {
      throw new TransientDownloadError(`the connection ended after ${received} of ${total} bytes`);
    }
    await handle.sync();
    return { bytes: received, sha256: hash.digest('hex'), resumed: append };
  } finally {
    await handle.close();
  }
}

/**
 * A 416 to `bytes=N-` means the partial file is already the whole file or is longer than it.
 * The length from `Content-Range: bytes *\/TOTAL` (or, without one, the expected digest) tells
 * which; an invalid partial file is deleted and the download starts over.
 */
async function completeUnsatisfiedRange(job: DownloadJob, offset: number, total: number | undefined): Promise<CompletedPartial> {
  if (total === offset || (total === undefined && job.expected !== undefined)) {
    const digest = await sha256OfFile(job.partial);
    if (total === offset || digest === job.expected) {
      const handle = await open(job.partial, 'r+');
      await handle.sync().finally(() => handle.close());
      return { bytes: offset, sha256: digest, resumed: true };
    }
  }
  await rm(job.partial, { force: true });
  throw new TransientDownloadError(`the partial file (${offset} bytes) does not match the remote file (${total ?? 'unknown length'}); starting over`, 0);
}

/** Network errors are worth another request; an abort by the caller is not. */
function transient(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return error;
  const reason = error instanceof Error ? (error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message) : String(error);
  return new TransientDownloadError(reason, undefined, { cause: error });
}

/** 408, 429 and 5xx may pass; any other status (404, 403, 401...) will not, so it fails at once. */
function statusError(url: URL, response: Response): Error {
  const message = `GET ${displayUrl(url)} answered ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const status = response.status;
  if (status === 408 || status === 429 || status >= 500) return new TransientDownloadError(message, retryAfterMs(response));
  return new Error(message);
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

/** Exponential backoff with ±20 % jitter, so that several downloads from one host spread out. */
function backoff(failures: number, baseMs: number): number {
  const delay = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** (failures - 1));
  return Math.round(delay * (0.8 + 0.4 * Math.random()));
}

function contentLength(response: Response): number | undefined {
  const value = response.headers.get('content-length');
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Frees the connection of an answer whose body is not wanted. */
async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

async function sizeOf(file: string): Promise<number> {
  return (await stat(file).catch(ignoreMissing))?.size ?? 0;
}

function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}

/** Best effort: some platforms (Windows) cannot open a folder for fsync. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
