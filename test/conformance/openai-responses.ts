// Raw HTTP for the conformance suites: what the SDK has no method for (rerank) or would refuse to
// send (bad values), and the check that a refusal is a 400 in OpenAI's error envelope.
import assert from 'node:assert/strict';
import type { ServedModel } from './served-model.js';

export interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** POSTs a JSON body; the answer's body is parsed JSON, or the text when it is not JSON (a stream). */
export async function postJson(served: ServedModel, path: string, body: unknown): Promise<RawResponse> {
  const response = await fetch(`${served.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Left as text: a failed assertion then shows what came instead of JSON.
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export interface OpenAIError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** Asserts a 400 in OpenAI's envelope, optionally with its param and code; returns the error. */
export function assertBadRequest(response: RawResponse, expected: { param?: string; code?: string } = {}): OpenAIError {
  const shown = JSON.stringify(response.body);
  assert.equal(response.status, 400, shown);
  const { error } = response.body as { error: OpenAIError };
  assert.equal(typeof error?.message, 'string', shown);
  assert.ok(error.message.length > 0, shown);
  assert.equal(error.type, 'invalid_request_error', shown);
  assert.ok('param' in error && 'code' in error, `param and code are present, null or not: ${shown}`);
  if (expected.param !== undefined) assert.equal(error.param, expected.param, shown);
  if (expected.code !== undefined) assert.equal(error.code, expected.code, shown);
  return error;
}
