// SHA-256 of files on disk, streamed: model files are gigabytes and must never be read whole.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Feeds the first `length` bytes of `file` into `hash` (a resumed download's existing part). */
export async function hashFileInto(hash: Hash, file: string, length: number): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
}

/** The lowercase hex SHA-256 of a whole file. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A user-given digest in lowercase; throws when it is not 64 hex digits. */
export function normalizeSha256(value: string): string {
  const digest = value.trim().toLowerCase();
  if (!SHA256_HEX.test(digest)) throw new Error(`sha256 must be 64 hexadecimal digits, got "${value}"`);
  return digest;
}
