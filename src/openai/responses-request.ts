// The wire schema of POST /v1/responses. Unlike chat completions, whose unknown fields are ignored
// for the sake of clients written for other servers, every top-level field here is honoured,
// accepted as a documented no-op, or refused by name: the Responses API has many fields that
// change what a response means (background runs, conversations, server-side tools), and a client
// that sets one must learn that it was not done. What each field does is in the README (Responses API).
import { z } from 'zod';
import { errors } from '../errors.js';
import { modelField } from './model-field.js';
import { MAX_TOOL_ARGUMENT_CHARACTERS, MAX_TOOLS } from './generation-request.js';
import { parseRequest } from './validation.js';

const MAX_INPUT_ITEMS = 4096;
/** OpenAI's limits on `metadata`. */
export const METADATA_LIMITS = { keys: 16, keyCharacters: 64, valueCharacters: 512 } as const;

/** A content part of a message item; its `type` is checked in responses-to-chat.ts, so that a refusal names the part. */
const contentPartSchema = z.looseObject({ type: z.string() });

const messageItemSchema = z.looseObject({
  type: z.literal('message').optional(),
  id: z.string().max(256).optional(),
  role: z.enum(['user', 'system', 'developer', 'assistant']),
  content: z.union([z.string(), z.array(contentPartSchema).max(1024)], { error: 'expected a string or an array of content parts' }),
});

const functionCallItemSchema = z.looseObject({
  type: z.literal('function_call'),
  id: z.string().max(256).optional(),
  call_id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  arguments: z.string().max(MAX_TOOL_ARGUMENT_CHARACTERS),
});

const functionCallOutputItemSchema = z.looseObject({
  type: z.literal('function_call_output'),
  id: z.string().max(256).optional(),
  call_id: z.string().min(1).max(256),
  output: z.union([z.string(), z.array(contentPartSchema).max(1024)], { error: 'expected a string or an array of content parts' }),
});

const reasoningItemSchema = z.looseObject({
  type: z.literal('reasoning'),
  id: z.string().max(256).optional(),
  summary: z.array(z.looseObject({ type: z.string(), text: z.string() })).optional(),
  content: z.array(z.looseObject({ type: z.string(), text: z.string() })).nullish(),
});

export const INPUT_ITEM_TYPES = ['message', 'function_call', 'function_call_output', 'reasoning'] as const;

/** Any item: its type is read first, so that an unknown type is refused by name before its fields are checked. */
const inputItemSchema = z.looseObject({ type: z.string().optional() });

export type MessageItem = z.infer<typeof messageItemSchema>;
export type FunctionCallItem = z.infer<typeof functionCallItemSchema>;
export type FunctionCallOutputItem = z.infer<typeof functionCallOutputItemSchema>;
export type ReasoningItem = z.infer<typeof reasoningItemSchema>;
export type InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem;

const ITEM_SCHEMAS = {
  message: messageItemSchema,
  function_call: functionCallItemSchema,
  function_call_output: functionCallOutputItemSchema,
  reasoning: reasoningItemSchema,
} as const;

/** A tool as listed: `type` is checked in responses-to-chat.ts (function tools only), naming the index. */
const toolSchema = z.looseObject({ type: z.string() });

export const functionToolSchema = z.looseObject({
  type: z.literal('function'),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'expected 1 to 64 letters, digits, underscores or dashes'),
  description: z.string().max(65536).nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
export type FunctionTool = z.infer<typeof functionToolSchema>;

const toolChoiceSchema = z.union([z.enum(['auto', 'none', 'required']), z.looseObject({ type: z.literal('function'), name: z.string().min(1).max(256) })], {
  error: 'expected "auto", "none", "required" or {"type": "function", "name": "..."}',
});

const textFormatSchema = z.discriminatedUnion(
  'type',
  [
    z.looseObject({ type: z.literal('text') }),
    z.looseObject({ type: z.literal('json_object') }),
    z.looseObject({
      type: z.literal('json_schema'),
      name: z.string().max(256).optional(),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()),
      strict: z.boolean().nullish(),
    }),
  ],
  { error: 'expected {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "name": "...", "schema": {...}}' },
);

const metadataSchema = z
  .record(
    z.string().max(METADATA_LIMITS.keyCharacters, `expected keys of at most ${METADATA_LIMITS.keyCharacters} characters`),
    z.string().max(METADATA_LIMITS.valueCharacters, `expected values of at most ${METADATA_LIMITS.valueCharacters} characters`),
  )
  .refine((metadata) => Object.keys(metadata).length <= METADATA_LIMITS.keys, `expected at most ${METADATA_LIMITS.keys} keys`);

/** The fields honoured (or accepted) with their schemas. */
const requestSchema = z.object({
  model: modelField,
  input: z.union([z.string(), z.array(inputItemSchema).min(1).max(MAX_INPUT_ITEMS)], { error: 'expected a string or an array of input items' }),
  instructions: z.string().nullish(),
  tools: z.array(toolSchema).max(MAX_TOOLS).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z
    .looseObject({
      format: textFormatSchema.nullish(),
      verbosity: z.enum(['low', 'medium', 'high']).nullish(),
    })
    .nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  reasoning: z
    .looseObject({
      effort: z.enum(['none', 'minimal', 'low', 'medium', 'high'], { error: 'expected "none", "minimal", "low", "medium" or "high"' }).nullish(),
      summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
      generate_summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
    })
    .nullish(),
  metadata: metadataSchema.nullish(),
  user: z.string().max(256).nullish(),
  store: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_obfuscation: z.boolean().nullish() }).nullish(),
  previous_response_id: z.string().min(1).max(256).nullish(),
  // Accepted as no-ops (see NO_OP_FIELDS) or refused unless at their no-op value (see refusedValue).
  prompt_cache_key: z.string().max(1024).nullish(),
  prompt_cache_retention: z.enum(['in_memory', '24h']).nullish(),
  safety_identifier: z.string().max(256).nullish(),
  service_tier: z.enum(['auto', 'default', 'flex', 'scale', 'priority']).nullish(),
  background: z.boolean().nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  include: z.array(z.string()).max(32).nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  conversation: z.unknown().optional(),
  prompt: z.unknown().optional(),
  max_tool_calls: z.unknown().optional(),
  context_management: z.unknown().optional(),
  moderation: z.unknown().optional(),
  prompt_cache_options: z.unknown().optional(),
});

export type ResponsesRequest = Omit<z.infer<typeof requestSchema>, 'input'> & { input: string | InputItem[] };

/**
 * Fields the gateway cannot honour, refused when set to anything but their no-op value (null, or
 * the value that asks for nothing): the reason goes into the 400.
 */
function refusedValue(request: z.infer<typeof requestSchema>): { field: string; reason: string } | undefined {
  const set = (value: unknown) => value !== undefined && value !== null;
  if (request.background === true) return { field: 'background', reason: 'responses run while their request is open; there are no background runs' };
  if (set(request.conversation)) return { field: 'conversation', reason: 'conversations are not kept; continue one with previous_response_id' };
  if (set(request.prompt)) return { field: 'prompt', reason: 'there are no stored prompt templates' };
  if (set(request.max_tool_calls))
    return { field: 'max_tool_calls', reason: 'the gateway runs no tools itself; use parallel_tool_calls to limit a reply to one call' };
  if (set(request.context_management)) return { field: 'context_management', reason: 'the gateway does not compact conversations' };
  if (set(request.moderation)) return { field: 'moderation', reason: 'the gateway runs no moderation' };
  if (set(request.prompt_cache_options)) return { field: 'prompt_cache_options', reason: 'the engines cache prompt prefixes on their own' };
  if (request.truncation === 'auto')
    return { field: 'truncation', reason: 'a conversation beyond the context is refused, never cut; "disabled" is what the gateway does' };
  const extra = (request.include ?? []).find((value) => !(INCLUDE_VALUES as readonly string[]).includes(value));
  if (extra !== undefined)
    return {
      field: 'include',
      reason: `the gateway provides none of the extra output ${JSON.stringify(extra)} asks for (only ${INCLUDE_VALUES.map((value) => JSON.stringify(value)).join(', ')} is accepted)`,
    };
  const { summary, generate_summary: generateSummary } = request.reasoning ?? {};
  if (summary != null && generateSummary != null && summary !== generateSummary)
    return { field: 'reasoning.generate_summary', reason: "it is the deprecated name of 'reasoning.summary', which the request sets to another value" };
  if ((request.top_logprobs ?? 0) > 0)
    return { field: 'top_logprobs', reason: 'log probabilities are not part of Responses output here; use /v1/chat/completions' };
  if (set(request.service_tier) && request.service_tier !== 'auto' && request.service_tier !== 'default')
    return { field: 'service_tier', reason: 'there is one tier: "auto" and "default" are accepted' };
  if (request.prompt_cache_retention === '24h') return { field: 'prompt_cache_retention', reason: 'the engines keep prompt caches in memory only' };
  if (set(request.text?.verbosity) && request.text!.verbosity !== 'medium')
    return { field: 'text.verbosity', reason: 'the models here have no verbosity setting; "medium" (the default) is accepted' };
  return undefined;
}

/**
 * The `include` values accepted. `reasoning.encrypted_content` (what Codex sends with
 * `store: false`) asks for a thought the client can send back: here the thought is returned in
 * plain (`reasoning_text`) and never carried into a prompt, so reasoning items say
 * `encrypted_content: null` (see responses-wire.ts).
 */
export const INCLUDE_VALUES = ['reasoning.encrypted_content'] as const;

const KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.keys(requestSchema.shape));

/** An item, checked against the schema of its type; an unknown type is a 400 naming `input[i].type`. */
function parseItem(item: z.infer<typeof inputItemSchema>, index: number): InputItem {
  // An item without `type` that has a role is a message (EasyInputMessage).
  const type = item.type ?? ('role' in item ? 'message' : undefined);
  if (type === undefined) throw errors.invalidRequest(`Missing required parameter: 'input[${index}].type'.`, `input[${index}].type`);
  if (!(INPUT_ITEM_TYPES as readonly string[]).includes(type))
    throw errors.invalidRequest(
      `Input item type '${type}' at 'input[${index}].type' is not supported: expected one of ${INPUT_ITEM_TYPES.map((name) => `'${name}'`).join(', ')}.`,
      `input[${index}].type`,
      'unsupported_parameter',
    );
  // Checked as a body of its own, the problem named where the item is.
  return parseRequest(ITEM_SCHEMAS[type as keyof typeof ITEM_SCHEMAS], item, ['input', index]) as InputItem;
}

export function parseResponsesRequest(body: unknown): ResponsesRequest {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const unknown = Object.keys(body).find((field) => !KNOWN_FIELDS.has(field));
    if (unknown !== undefined) throw errors.invalidRequest(`Unknown parameter: '${unknown}'.`, unknown, 'unknown_parameter');
    if ((body as { input?: unknown }).input === undefined)
      throw errors.invalidRequest("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  }
  const request = parseRequest(requestSchema, body);
  const refused = refusedValue(request);
  if (refused) throw errors.invalidRequest(`'${refused.field}' is not supported here: ${refused.reason}.`, refused.field, 'unsupported_parameter');
  const input = typeof request.input === 'string' ? request.input : request.input.map(parseItem);
  // `reasoning.generate_summary` is the deprecated name of `reasoning.summary`: one setting.
  const reasoning =
    request.reasoning?.generate_summary != null
      ? { ...request.reasoning, summary: request.reasoning.summary ?? request.reasoning.generate_summary }
      : request.reasoning;
  return { ...request, input, reasoning };
}
