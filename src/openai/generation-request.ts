// Wire schemas of POST /v1/chat/completions and POST /v1/completions. Unknown fields are
// ignored, as OpenAI-compatible servers do, so that clients written for other servers still work.
import { z } from 'zod';
import { modelField } from './model-field.js';

const MAX_STOP_STRINGS = 16;
export const MAX_MESSAGES = 4096;
const MAX_CHOICES = 16;

const stopSchema = z
  .union([z.string().max(1024), z.array(z.string().max(1024)).max(MAX_STOP_STRINGS)], {
    error: `expected a string or an array of at most ${MAX_STOP_STRINGS} strings`,
  })
  .nullish();

const jsonSchemaFormat = z.looseObject({
  name: z.string().max(256).optional(),
  description: z.string().optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().nullish(),
});

const responseFormatSchema = z.discriminatedUnion(
  'type',
  [
    z.looseObject({ type: z.literal('text') }),
    z.looseObject({ type: z.literal('json_object') }),
    z.looseObject({ type: z.literal('json_schema'), json_schema: jsonSchemaFormat }),
  ],
  { error: 'expected {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "json_schema": {...}}' },
);

/** Sampling and output fields shared by both endpoints. */
const samplingFields = {
  model: modelField,
  max_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z
    .number()
    .int()
    .min(-(2 ** 53))
    .max(2 ** 53)
    .nullish(),
  stop: stopSchema,
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  repeat_penalty: z.number().min(0).max(10).nullish(),
  logit_bias: z.record(z.string().regex(/^\d+$/, 'token ids as keys'), z.number().min(-100).max(100)).nullish(),
  n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
  user: z.string().max(256).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  /** llama.cpp's native fields: a GBNF grammar, or a JSON schema to constrain the output. */
  grammar: z.string().min(1).max(65536).nullish(),
  json_schema: z.record(z.string(), z.unknown()).nullish(),
  response_format: responseFormatSchema.nullish(),
};

/** A content part: `text` or `image_url`, checked in src/openai/chat-messages.ts so that a refusal names the part. */
const contentPartSchema = z.looseObject({ type: z.string(), text: z.unknown().optional(), image_url: z.unknown().optional() });

/** Most tools (and legacy functions) one request may list, and most calls one history message may hold. */
export const MAX_TOOLS = 128;
export const MAX_TOOL_ARGUMENT_CHARACTERS = 1_000_000;

const toolCallSchema = z.looseObject({
  id: z.string().min(1).max(256),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1).max(256), arguments: z.string().max(MAX_TOOL_ARGUMENT_CHARACTERS) }),
});

const messageSchema = z.looseObject({
  // `function` is the legacy role of a function's result (it names the function instead of a call id).
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPartSchema).max(1024), z.null()], { error: 'expected a string or an array of content parts' }).optional(),
  name: z.string().max(256).optional(),
  tool_calls: z.array(toolCallSchema).max(MAX_TOOLS).nullish(),
  tool_call_id: z.string().min(1).max(256).optional(),
  /** Legacy: an assistant message's single call. */
  function_call: z.looseObject({ name: z.string().min(1).max(256), arguments: z.string().max(MAX_TOOL_ARGUMENT_CHARACTERS) }).nullish(),
});

/** OpenAI's rule for function names; also what keeps them safe inside a template or a grammar. */
const functionNameSchema = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'expected 1 to 64 letters, digits, underscores or dashes');

const functionDefinitionSchema = z.looseObject({
  name: functionNameSchema,
  description: z.string().max(65536).nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const toolSchema = z.looseObject({ type: z.literal('function'), function: functionDefinitionSchema });

const toolChoiceSchema = z.union(
  [z.enum(['auto', 'none', 'required']), z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().max(256) }) })],
  { error: 'expected "auto", "none", "required" or {"type": "function", "function": {"name": "..."}}' },
);

const functionCallSchema = z.union([z.enum(['auto', 'none']), z.looseObject({ name: z.string().max(256) })], {
  error: 'expected "auto", "none" or {"name": "..."}',
});

export const chatCompletionRequestSchema = z.looseObject({
  ...samplingFields,
  messages: z.array(messageSchema).min(1).max(MAX_MESSAGES),
  max_completion_tokens: z.number().int().positive().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  tools: z.array(toolSchema).max(MAX_TOOLS).nullish(),
  tool_choice: toolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  /** OpenAI's reasoning effort; the engines' meaning of each level is in src/backends/thought-segments.ts. */
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high'], { error: 'expected "none", "minimal", "low", "medium" or "high"' }).nullish(),
  /** Legacy spelling of `tools` and `tool_choice` (one call per reply). */
  functions: z.array(functionDefinitionSchema).max(MAX_TOOLS).nullish(),
  function_call: functionCallSchema.nullish(),
});

export const completionRequestSchema = z.looseObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(MAX_CHOICES), z.array(z.number()), z.array(z.array(z.number()))], {
    error: 'expected a string or an array of strings',
  }),
  echo: z.boolean().nullish(),
  suffix: z.string().nullish(),
  best_of: z.number().int().min(1).nullish(),
  /** The legacy API's logprobs is a count of alternatives, 0..5. */
  logprobs: z.number().int().min(0).max(5).nullish(),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type SamplingRequest = Pick<ChatCompletionRequest, keyof typeof samplingFields>;
