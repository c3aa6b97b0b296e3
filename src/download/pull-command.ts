// `switchyard pull URL [--to DIR] [--sha256 HEX]`: downloads one model file into a folder and
// prints where it landed, so scripts can use the output as the model's `path`.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { progressReporter, type ProgressReporter } from './download-progress.js';
import { downloadModel } from './model-download.js';

export interface PullOptions {
  /** Folder to download into, created when missing. Default: the current directory. */
  to?: string;
  /** Expected SHA-256, 64 hex digits. Default: none. */
  sha256?: string;
}

/** Where the command prints: stdout gets only the path; messages go to stderr. */
export interface PullOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Resolves to the process exit code: 0 when the file is in place, 1 otherwise. */
export async function pullCommand(url: string, options: PullOptions, logger: Logger, output: PullOutput = process): Promise<number> {
  const directory = path.resolve(options.to ?? '.');
  // Ctrl-C aborts cleanly so the .partial file is kept for the next pull; `once` means a second
  // Ctrl-C falls back to Node's default and ends the process at once.
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  let progress: ProgressReporter | undefined;
  try {
    await mkdir(directory, { recursive: true });
    progress = progressReporter(logger, labelFor(url));
    const result = await downloadModel({
      url,
      destination: directory,
      sha256: options.sha256,
      logger,
      signal: controller.signal,
      onProgress: progress.report,
    });
    progress.finish();
    output.stdout.write(`${result.path}\n`);
    return 0;
  } catch (error) {
    progress?.finish();
    if (controller.signal.aborted) {
      output.stderr.write('pull interrupted; run the same command again to resume the download\n');
    } else {
      output.stderr.write(`pull failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    return 1;
  } finally {
    process.off('SIGINT', interrupt);
  }
}

/** The URL's file name for the progress line; the URL itself when it has none (it is checked later). */
function labelFor(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? url);
  } catch {
    return url;
  }
}
