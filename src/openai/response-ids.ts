// The ids of responses and of their input and output items.
import { randomBytes } from 'node:crypto';

/** `prefix_` and 24 hex digits: the ids of responses and their items (OpenAI's are as opaque). */
export function newItemId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
