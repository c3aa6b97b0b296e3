// Turns the graph's output into one vector per input.

export type PoolingMode = 'mean' | 'cls' | 'last';

/**
 * Pools a [batch, sequence, width] output. Rows are right-padded, so the first `lengths[row]`
 * positions are exactly the attention-masked ones: the mask need not be read back.
 * Sums run in float64 so a 512-token mean loses nothing before rounding to float32.
 */
export function poolTokenEmbeddings(hidden: Float32Array, dims: readonly number[], lengths: readonly number[], mode: PoolingMode): Float32Array[] {
  const [batch, sequence, width] = dims;
  const vectors: Float32Array[] = [];
  const sum = new Float64Array(width);
  for (let row = 0; row < batch; row++) {
    const length = lengths[row];
    const rowStart = row * sequence * width;
    if (mode === 'mean') {
      sum.fill(0);
      for (let position = 0; position < length; position++) {
        const at = rowStart + position * width;
        for (let k = 0; k < width; k++) sum[k] += hidden[at + k];
      }
      const vector = new Float32Array(width);
      const divisor = Math.max(length, 1);
      for (let k = 0; k < width; k++) vector[k] = sum[k] / divisor;
      vectors.push(vector);
    } else {
      const position = mode === 'cls' ? 0 : Math.max(length - 1, 0);
      const at = rowStart + position * width;
      vectors.push(hidden.slice(at, at + width));
    }
  }
  return vectors;
}

/** Splits a [batch, width] output into rows, each with its own buffer (safe to encode alone). */
export function splitRows(pooled: Float32Array, dims: readonly number[]): Float32Array[] {
  const [batch, width] = dims;
  const rows: Float32Array[] = [];
  for (let row = 0; row < batch; row++) rows.push(pooled.slice(row * width, (row + 1) * width));
  return rows;
}

export function normalizeInPlace(vector: Float32Array): void {
  let squares = 0;
  for (let k = 0; k < vector.length; k++) squares += vector[k] * vector[k];
  // A zero vector stays zero rather than becoming NaN.
  if (squares === 0) return;
  const scale = 1 / Math.sqrt(squares);
  for (let k = 0; k < vector.length; k++) vector[k] *= scale;
}
