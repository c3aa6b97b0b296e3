// What every engine that makes tool calls does the same way: name them. OpenAI's ids are `call_`
// and 24 random characters; clients only need them unique within a conversation.
import { randomBytes } from 'node:crypto';

/** A fresh `call_…` id for a generated tool call. */
export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`;
}
