// Runs many sequences as a few graph runs: sorted by length so each run pads little, and cut so
// no run exceeds the model's batch limits.
import type { TokenSequence } from './sequence-layout.js';

export interface BatchLimits {
  /** Sequences per run. */
  maxBatchSize: number;
  /** Padded tokens per run: sequences × the longest one. A longer single sequence runs alone. */
  maxBatchTokens: number;
}

/** Groups of indices into `lengths`, shortest first, each within `limits`. */
export function planLengthSortedRuns(lengths: readonly number[], limits: BatchLimits): number[][] {
  const order = lengths.map((_, index) => index).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const runs: number[][] = [];
  let current: number[] = [];
  for (const index of order) {
    // Sorted ascending, so the newcomer is the run's longest.
    const paddedTokens = (current.length + 1) * lengths[index];
    if (current.length > 0 && (current.length >= limits.maxBatchSize || paddedTokens > limits.maxBatchTokens)) {
      runs.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

/**
 * Calls `runOne` for each planned group, one after another, and returns its per-sequence
 * results in the sequences' original order. The signal is checked between runs: a run already
 * handed to ONNX Runtime cannot be stopped.
 */
export async function runLengthSorted<T>(
  sequences: readonly TokenSequence[],
  limits: BatchLimits,
  signal: AbortSignal | undefined,
  runOne: (group: TokenSequence[]) => Promise<T[]>,
): Promise<T[]> {
  const results = new Array<T>(sequences.length);
  for (const group of planLengthSortedRuns(
    sequences.map((sequence) => sequence.ids.length),
    limits,
  )) {
    signal?.throwIfAborted();
    const groupResults = await runOne(group.map((index) => sequences[index]));
    group.forEach((index, position) => {
      results[index] = groupResults[position];
    });
  }
  return results;
}
