// Wire schema of POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API). Unlike
// the OpenAI routes, a top-level field this server does not know is a 400 naming it: a client
// written for Anthropic's API sends each field meaning it, and one that is silently dropped (an MCP
// server, a code-execution container) would change the answer without a word. Content blocks are
// checked one by one in messages-translation.ts, so that a refusal names the block's type and place.
import { z } from 'zod';
import { errors } from '../errors.js';
import { MAX_MESSAGES, MAX_TOOLS } from '../openai/generation-request.js';
import { modelField } from '../openai/model-field.js';
import { parseRequest } from '../openai/validation.js';

const MAX_BLOCKS = 1024;
const MAX_STOP_SEQUENCES = 16;

/** A content block as first parsed: its type, checked with the rest of it by type in messages-translation.ts. */
const blockSchema = z.looseObject({ type: z.string().max(64) });

/** A cache breakpoint: accepted, a no-op (the engines reuse the longest cached prefix of every prompt on their own). */
const cacheControlSchema = z.looseObject({ type: z.string().max(64) }).nullish();

/**
 * A text block; `citations` (an earlier reply's, echoed back) are accepted and not rendered. Here and
 * in every nested object a key this server does not know is a 400 naming it, as at the top level.
 */
const textBlockSchema = z.strictObject({
  type: z.literal('text'),
  text: z.string(),
  cache_control: cacheControlSchema,
  citations: z.array(z.unknown()).nullish(),
});

/** Anthropic's tool name rule (the same as OpenAI's function names, which the templates and grammars rely on). */
const toolNameSchema = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'expected 1 to 64 letters, digits, underscores or dashes');

/**
 * A tool: a client tool (no `type`, or `"custom"`) with its input schema. A server tool (web search,
 * bash, text editor, code execution…) has a versioned `type` and is refused by name in the translation.
 */
const toolSchema = z.looseObject({
  type: z.string().max(64).optional(),
  name: z.string().max(256),
  description: z.string().max(65536).optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().optional(),
});

const toolChoiceSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
    z.strictObject({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
    z.strictObject({ type: z.literal('tool'), name: z.string().max(256), disable_parallel_tool_use: z.boolean().optional() }),
    z.strictObject({ type: z.literal('none') }),
  ],
  { error: 'expected {"type": "auto"}, {"type": "any"}, {"type": "tool", "name": "..."} or {"type": "none"}' },
);

/** `omitted`: the thought is generated but not sent (its blocks come empty), as Anthropic does. */
const thinkingDisplaySchema = z.enum(['summarized', 'omitted']).nullish();

const thinkingSchema = z.discriminatedUnion(
  'type',
  [
    // Anthropic's own minimum is 1024; a smaller budget is honoured here (small models think briefly).
    z.strictObject({ type: z.literal('enabled'), budget_tokens: z.number().int().positive(), display: thinkingDisplaySchema }),
    z.strictObject({ type: z.literal('disabled') }),
    z.strictObject({ type: z.literal('adaptive'), display: thinkingDisplaySchema }),
  ],
  { error: 'expected {"type": "enabled", "budget_tokens": N}, {"type": "disabled"} or {"type": "adaptive"}' },
);

const fields = {
  model: modelField,
  messages: z
    .array(
      z.strictObject({
        role: z.enum(['user', 'assistant']),
        content: z.union([z.string(), z.array(blockSchema).max(MAX_BLOCKS)], { error: 'expected a string or an array of content blocks' }),
      }),
    )
    .min(1)
    .max(MAX_MESSAGES),
  system: z.union([z.string(), z.array(textBlockSchema).max(MAX_BLOCKS)], { error: 'expected a string or an array of text blocks' }).optional(),
  max_tokens: z.number().int().positive(),
  stop_sequences: z.array(z.string().min(1).max(1024)).max(MAX_STOP_SEQUENCES).optional(),
  // Anthropic's range is 0..1 (OpenAI's 0..2): the same number means the same sampling here.
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  tools: z.array(toolSchema).max(MAX_TOOLS).optional(),
  tool_choice: toolChoiceSchema.optional(),
  thinking: thinkingSchema.optional(),
  /** Accepted, a no-op (as chat's `user`): the key's name is what identifies a caller in logs and metrics. */
  metadata: z.strictObject({ user_id: z.string().max(256).nullish() }).optional(),
  stream: z.boolean().optional(),
  /** Accepted, a no-op: this server has one tier of capacity. */
  service_tier: z.enum(['auto', 'standard_only']).optional(),
  cache_control: cacheControlSchema,
};

export const messagesRequestSchema = z.object(fields);
/** count_tokens takes the request less what only a generation reads. */
export const countTokensRequestSchema = messagesRequestSchema.omit({
  max_tokens: true,
  stop_sequences: true,
  stream: true,
  service_tier: true,
  metadata: true,
});

export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
export type CountTokensRequest = z.infer<typeof countTokensRequestSchema>;
export type ContentBlock = z.infer<typeof blockSchema>;
export { cacheControlSchema, textBlockSchema, toolNameSchema };

/** Fields of Anthropic's API that name a service this server does not run: refused with the reason. */
const REFUSED_FIELDS = new Map<string, string>([
  ['container', 'code-execution containers are not run by this server'],
  ['mcp_servers', 'this server does not connect to MCP servers; list their tools in `tools` and run them on the client'],
  ['output_config', 'structured output settings are not supported on /v1/messages; use /v1/chat/completions with response_format'],
]);

function checkFieldsKnown(body: unknown, known: readonly string[]): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.invalidRequest('The request body must be a JSON object.');
  for (const field of Object.keys(body)) {
    if (known.includes(field)) continue;
    const reason = REFUSED_FIELDS.get(field);
    throw errors.invalidRequest(
      reason === undefined
        ? `${field}: Extra inputs are not permitted (this server does not know the field '${field}').`
        : `${field}: not supported: ${reason}.`,
      field,
      'unsupported_parameter',
    );
  }
}

export function parseMessagesRequest(body: unknown): MessagesRequest {
  checkFieldsKnown(body, Object.keys(messagesRequestSchema.shape));
  return parseRequest(messagesRequestSchema, body);
}

export function parseCountTokensRequest(body: unknown): CountTokensRequest {
  checkFieldsKnown(body, Object.keys(countTokensRequestSchema.shape));
  return parseRequest(countTokensRequestSchema, body);
}
