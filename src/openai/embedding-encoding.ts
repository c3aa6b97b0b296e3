// Vector post-processing and encoding for the embeddings response.
import os from 'node:os';

/** Keeps the first `dimensions` values and rescales to unit length (Matryoshka shortening). */
export function shortenVector(vector: Float32Array, dimensions: number): Float32Array {
  const shortened = vector.slice(0, dimensions);
  let sumOfSquares = 0;
  for (const value of shortened) sumOfSquares += value * value;
  const norm = Math.sqrt(sumOfSquares);
  if (norm > 0) for (let index = 0; index < shortened.length; index++) shortened[index] /= norm;
  return shortened;
}

const littleEndianHost = os.endianness() === 'LE';

/** Little-endian float32 bytes in base64: what the OpenAI SDKs decode without checking. */
export function toBase64(vector: Float32Array): string {
  if (littleEndianHost) return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
  return bytes.toString('base64');
}
