// Shows a download's progress: one redrawn line on a terminal, sparse log lines otherwise (a log
// file or a container's output must not get a line per chunk).
import type { Logger } from '../logger.js';

export interface DownloadProgress {
  /** Bytes in the file so far, a resumed part included. */
  received: number;
  /** Length of the whole file, when the server said. */
  total?: number;
}

/** Where the terminal line goes: stderr, so that stdout stays clean for the printed path. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressReporter {
  /** Pass as `onProgress`. */
  report(progress: DownloadProgress): void;
  /** Ends the terminal line; call once the download settles, whether it succeeded or not. */
  finish(): void;
}

export interface ProgressReporterOptions {
  /** Default: process.stderr; a TTY gets the redrawn line. */
  stream?: ProgressStream;
  /** Milliseconds clock; default performance.now (tests pass a fake one). */
  now?: () => number;
}

/** Log lines come at most this often on time alone... */
const LOG_INTERVAL_MS = 5_000;
/** ...or each time another tenth of the file is in. */
const LOG_STEPS = 10;
/** Redrawing more often than this only costs terminal time; the eye cannot follow it. */
const REDRAW_INTERVAL_MS = 100;

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

export function progressReporter(logger: Logger, label: string, options: ProgressReporterOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const terminal = stream.isTTY === true;
  // Speed counts only this session's bytes: a resumed download starts with a large `received`.
  let baseline: { received: number; at: number } | undefined;
  let lastLogAt = 0;
  let lastLogStep = -1;
  let lastDrawAt = -Infinity;
  let lineOpen = false;

  const stepOf = (progress: DownloadProgress) => (progress.total ? Math.floor((progress.received / progress.total) * LOG_STEPS) : -1);

  const speed = (progress: DownloadProgress, at: number) => {
    if (!baseline || at <= baseline.at) return 0;
    return (progress.received - baseline.received) / 1e6 / ((at - baseline.at) / 1000);
  };

  return {
    report(progress) {
      const at = now();
      // A server that ignored Range makes `received` start again from zero.
      if (!baseline || progress.received < baseline.received) {
        baseline = { received: progress.received, at };
        lastLogAt = at;
        lastLogStep = stepOf(progress);
      }
      const percent = progress.total ? Math.min(100, Math.floor((progress.received / progress.total) * 100)) : undefined;
      const mbPerSecond = speed(progress, at);
      if (terminal) {
        const complete = progress.total !== undefined && progress.received >= progress.total;
        if (!complete && at - lastDrawAt < REDRAW_INTERVAL_MS) return;
        lastDrawAt = at;
        const amount = progress.total === undefined ? `${megabytes(progress.received)} MB` : `${megabytes(progress.received)}/${megabytes(progress.total)} MB`;
        const share = percent === undefined ? '' : ` ${String(percent).padStart(3)}%`;
        // \x1b[K clears what a longer previous line left behind.
        stream.write(`\r${label}${share} ${amount} ${mbPerSecond.toFixed(1)} MB/s\x1b[K`);
        lineOpen = true;
        return;
      }
      const step = stepOf(progress);
      if (step <= lastLogStep && at - lastLogAt < LOG_INTERVAL_MS) return;
      lastLogAt = at;
      lastLogStep = Math.max(step, lastLogStep);
      logger.info(
        {
          file: label,
          percent,
          received_mb: Number(megabytes(progress.received)),
          total_mb: progress.total === undefined ? undefined : Number(megabytes(progress.total)),
          mb_per_second: Number(mbPerSecond.toFixed(1)),
        },
        'download progress',
      );
    },
    finish() {
      if (lineOpen) stream.write('\n');
      lineOpen = false;
    },
  };
}
