// Validates a request body against a wire schema and turns the first problem into an OpenAI
// 400 naming the parameter, in the words OpenAI uses ("Invalid type for 'messages[0].content'").
import type { z } from 'zod';
import { errors } from '../errors.js';

/** `messages[0].content` from ['messages', 0, 'content']. */
export function parameterName(path: readonly PropertyKey[]): string {
  let name = '';
  for (const part of path) name += typeof part === 'number' ? `[${part}]` : name === '' ? String(part) : `.${String(part)}`;
  return name;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? 'a string' : `the string ${JSON.stringify(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function issueMessage(issue: z.core.$ZodIssue, name: string): string {
  const found = 'input' in issue && issue.input !== undefined ? `, found ${describe(issue.input)}` : '';
  switch (issue.code) {
    case 'invalid_type':
      if (!('input' in issue) || issue.input === undefined) return `Missing required parameter: '${name}'.`;
      return `Invalid type for '${name}': expected ${issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`}${found}.`;
    case 'invalid_value':
      return `Invalid value for '${name}': expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}${found}.`;
    case 'too_small':
      if (issue.origin === 'array') return `Invalid '${name}': expected at least ${String(issue.minimum)} item(s).`;
      if (issue.origin === 'string') return `Invalid '${name}': expected a string of at least ${String(issue.minimum)} character(s).`;
      return `Invalid '${name}': expected a value ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}${found}.`;
    case 'too_big':
      if (issue.origin === 'array') return `Invalid '${name}': expected at most ${String(issue.maximum)} item(s).`;
      if (issue.origin === 'string') return `Invalid '${name}': expected a string of at most ${String(issue.maximum)} character(s).`;
      return `Invalid '${name}': expected a value ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}${found}.`;
    case 'invalid_union':
      return `Invalid value for '${name}': ${issue.message}.`;
    default:
      return `Invalid '${name}': ${issue.message}${found}.`;
  }
}

/** Parses `body` (found at path `at` of the request: a part checked on its own) or throws a 400 naming the field. */
export function parseRequest<Schema extends z.ZodType>(schema: Schema, body: unknown, at: readonly PropertyKey[] = []): z.infer<Schema> {
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = parameterName([...at, ...issue.path]);
  throw errors.invalidRequest(issueMessage(issue, name || 'body'), name || null, 'invalid_request');
}
