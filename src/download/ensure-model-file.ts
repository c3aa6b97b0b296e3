// The startup path for a model key `source = "https://…"`: when the model's `path` is missing,
// fetch it before the registry looks at it.
//
// Only a single file is supported (a .gguf, or one .onnx file). An ONNX model is a folder (model
// plus tokenizer.json), which would need an archive as its source; unpacking archives is left out,
// and an archive URL is refused here rather than saved under the folder's name.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { progressReporter } from './download-progress.js';
import { downloadModel } from './model-download.js';

export interface EnsureModelFileOptions {
  /** The model's resolved `path`: the file to create. */
  path: string;
  /** The model's `source`, an http(s) URL of the file. */
  source: string;
  /** The model's `sha256`, checked on download. Default: none. */
  sha256?: string;
  logger: Logger;
  /** Aborts the download (shutdown during startup); the .partial file is kept for the next start. */
  signal?: AbortSignal;
}

const ARCHIVE = /\.(zip|tar|tgz|tar\.gz|tar\.xz|tar\.zst|7z)$/i;

/**
 * Two callers for one path (a reload racing startup) share one download, since two writers on
 * one .partial file would corrupt it. Other processes are not coordinated with.
 */
const downloadsInFlight = new Map<string, Promise<void>>();

export async function ensureModelFile(options: EnsureModelFileOptions): Promise<void> {
  const target = path.resolve(options.path);
  // An existing file is trusted as is: hashing gigabytes on every start would slow every start;
  // `switchyard pull --sha256` is the way to check one by hand.
  if (await exists(target)) return;
  const running = downloadsInFlight.get(target);
  if (running) return running;
  const download = fetchModelFile(target, options).finally(() => downloadsInFlight.delete(target));
  downloadsInFlight.set(target, download);
  return download;
}

async function fetchModelFile(target: string, options: EnsureModelFileOptions): Promise<void> {
  let pathname: string;
  try {
    pathname = new URL(options.source).pathname;
  } catch {
    throw new Error(`source is not a URL: "${options.source}"`);
  }
  if (ARCHIVE.test(pathname)) {
    throw new Error(`source ${options.source} is an archive; only a single model file can be downloaded`);
  }
  const progress = progressReporter(options.logger, path.basename(target));
  try {
    await downloadModel({
      url: options.source,
      destination: target,
      sha256: options.sha256,
      logger: options.logger,
      signal: options.signal,
      onProgress: progress.report,
    });
  } finally {
    progress.finish();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
