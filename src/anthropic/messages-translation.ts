// An Anthropic Messages request → the chat completion request the chat pipeline answers. Each block
// is checked here, so that every refusal names the request's own field (`messages[2].content[1]`):
// the chat messages made from it are numbered differently (a system message first, each
// tool_result its own tool message).
//
// Choices, after llama.cpp's server and LiteLLM: `system` becomes the first (system) message;
// `tool_result` blocks become tool messages placed before the rest of their user message (chat
// templates expect a call's result right after the call); `thinking` and `redacted_thinking` blocks of
// the history are accepted and not rendered (the templates drop earlier turns' thoughts, and a
// signature only Anthropic can check means nothing here); a result's `is_error` is said in its
// text, since a chat tool message has no such flag.
import { errors } from '../errors.js';
import type { ChatCompletionRequest } from '../openai/generation-request.js';
import { imageOfUrl, type ImageLimits } from '../openai/image-parts.js';
import { checkJsonSchemaShape } from '../openai/json-schema-shape.js';
import { checkJsonSchemaLimits } from '../openai/request-limits.js';
import { parseRequest } from '../openai/validation.js';
import { z } from 'zod';
import type { ContentBlock, CountTokensRequest, MessagesRequest } from './messages-request.js';
import { textBlockSchema, toolNameSchema } from './messages-request.js';

type ChatMessageParam = ChatCompletionRequest['messages'][number];
type ChatPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

const MAX_TOOL_INPUT_CHARACTERS = 1_000_000;

const imageBlockSchema = z.looseObject({
  type: z.literal('image'),
  source: z.discriminatedUnion(
    'type',
    [
      z.looseObject({ type: z.literal('base64'), media_type: z.string().max(64), data: z.string() }),
      z.looseObject({ type: z.literal('url'), url: z.string() }),
    ],
    { error: 'expected {"type": "base64", "media_type": "image/png", "data": "..."}' },
  ),
});

const toolUseBlockSchema = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  input: z.record(z.string(), z.unknown()),
});

const toolResultBlockSchema = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1).max(256),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string().max(64) })).max(1024)]).optional(),
  is_error: z.boolean().optional(),
});

/** The block types a message may hold, by role. */
const BLOCK_TYPES = {
  user: ['text', 'image', 'tool_result'],
  assistant: ['text', 'tool_use', 'thinking', 'redacted_thinking'],
} as const;

/** How the Anthropic request spells the fields the chat pipeline's errors name. */
export function messagesWireNames(request: CountTokensRequest): Readonly<Record<string, string>> {
  return {
    prompt: 'messages',
    maxTokens: 'max_tokens',
    stop: 'stop_sequences',
    reasoning_effort: 'thinking',
    thinkingTokens: 'thinking.budget_tokens',
    tool_choice: 'tool_choice',
    ...Object.fromEntries((request.tools ?? []).map((_, index) => [`tools[${index}].function.parameters`, `tools[${index}].input_schema`])),
  };
}

/** The request's conversation as checked chat messages (`images` counts the images met so far). */
class MessageTranslator {
  readonly #limits: ImageLimits;
  readonly #toolUseIds = new Set<string>();
  #images = 0;

  constructor(limits: ImageLimits) {
    this.#limits = limits;
  }

  translate(message: MessagesRequest['messages'][number], index: number): ChatMessageParam[] {
    if (typeof message.content === 'string') return [{ role: message.role, content: message.content }];
    const param = `messages[${index}].content`;
    const allowed: readonly string[] = BLOCK_TYPES[message.role];
    message.content.forEach((block, blockIndex) => {
      if (!allowed.includes(block.type))
        throw errors.invalidRequest(
          `${param}[${blockIndex}].type: the block type '${block.type}' is not supported in ${message.role} messages here (expected one of ${allowed.join(', ')}).`,
          `${param}[${blockIndex}].type`,
          'unsupported_parameter',
        );
    });
    return message.role === 'user' ? this.#userMessages(message.content, index) : [this.#assistantMessage(message.content, index)];
  }

  #userMessages(blocks: ContentBlock[], index: number): ChatMessageParam[] {
    const results: ChatMessageParam[] = [];
    const parts: ChatPart[] = [];
    blocks.forEach((block, blockIndex) => {
      const at = ['messages', index, 'content', blockIndex];
      if (block.type === 'text') parts.push({ type: 'text', text: parseRequest(textBlockSchema, block, at).text });
      else if (block.type === 'image') parts.push(this.#imagePart(parseRequest(imageBlockSchema, block, at), `messages[${index}].content[${blockIndex}]`));
      else results.push(this.#toolMessage(parseRequest(toolResultBlockSchema, block, at), `messages[${index}].content[${blockIndex}]`));
    });
    if (parts.length > 0 || results.length === 0)
      results.push({ role: 'user', content: parts.every((part) => part.type === 'text') ? joinText(parts) : parts });
    return results;
  }

  #imagePart(block: z.infer<typeof imageBlockSchema>, param: string): ChatPart {
    const source = block.source;
    if (source.type === 'url')
      throw errors.invalidRequest(
        `Remote image URLs are not accepted ('${param}.source.url'): send the image itself as {"type": "base64", "media_type": ..., "data": ...}.`,
        `${param}.source.url`,
        'unsupported_parameter',
      );
    this.#images += 1;
    if (this.#images > this.#limits.maxImagesPerRequest)
      throw errors.invalidRequest(
        `Too many images: this server takes at most ${this.#limits.maxImagesPerRequest} per request (max_images_per_request); '${param}' is one more.`,
        param,
        'too_many_images',
      );
    const image = imageOfUrl(`data:${source.media_type};base64,${source.data}`, `${param}.source`, this.#limits);
    return { type: 'image_url', image_url: { url: image.dataUrl } };
  }

  #toolMessage(block: z.infer<typeof toolResultBlockSchema>, param: string): ChatMessageParam {
    if (!this.#toolUseIds.has(block.tool_use_id))
      throw errors.invalidRequest(
        `${param}.tool_use_id: '${block.tool_use_id}' matches no tool_use block of an earlier assistant message.`,
        `${param}.tool_use_id`,
      );
    const content = block.content ?? '';
    const texts =
      typeof content === 'string'
        ? content
        : content
            .map((part, partIndex) => {
              if (part.type !== 'text')
                throw errors.invalidRequest(
                  `${param}.content[${partIndex}].type: the block type '${part.type}' is not supported in a tool_result here (expected text).`,
                  `${param}.content[${partIndex}].type`,
                  'unsupported_parameter',
                );
              return parseRequest(textBlockSchema, part, [param, 'content', partIndex]).text;
            })
            .join('');
    return { role: 'tool', tool_call_id: block.tool_use_id, content: block.is_error === true ? `Error: ${texts}` : texts };
  }

  #assistantMessage(blocks: ContentBlock[], index: number): ChatMessageParam {
    let text = '';
    const calls: NonNullable<ChatMessageParam['tool_calls']> = [];
    blocks.forEach((block, blockIndex) => {
      const at = ['messages', index, 'content', blockIndex];
      if (block.type === 'text') text += parseRequest(textBlockSchema, block, at).text;
      else if (block.type === 'tool_use') {
        const use = parseRequest(toolUseBlockSchema, block, at);
        const param = `messages[${index}].content[${blockIndex}]`;
        if (this.#toolUseIds.has(use.id))
          throw errors.invalidRequest(`${param}.id: the tool_use id '${use.id}' is used twice; each call needs an id of its own.`, `${param}.id`);
        this.#toolUseIds.add(use.id);
        const input = JSON.stringify(use.input);
        if (input.length > MAX_TOOL_INPUT_CHARACTERS)
          throw errors.invalidRequest(`${param}.input: longer than ${MAX_TOOL_INPUT_CHARACTERS} characters as JSON.`, `${param}.input`);
        calls.push({ id: use.id, type: 'function', function: { name: use.name, arguments: input } });
      }
    });
    return { role: 'assistant', content: text, ...(calls.length > 0 ? { tool_calls: calls } : {}) };
  }
}

function joinText(parts: ChatPart[]): string {
  return parts.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

function systemMessages(system: MessagesRequest['system']): ChatMessageParam[] {
  if (system === undefined) return [];
  const text = typeof system === 'string' ? system : system.map((block) => block.text).join('\n');
  return text === '' ? [] : [{ role: 'system', content: text }];
}

type ChatToolFields = Pick<ChatCompletionRequest, 'tools' | 'tool_choice' | 'parallel_tool_calls'>;

/** `tools` and `tool_choice`, checked with their Anthropic names. */
function toolFields(request: CountTokensRequest): ChatToolFields {
  const tools = request.tools ?? [];
  const names = new Set<string>();
  const definitions = tools.map((tool, index) => {
    const param = `tools[${index}]`;
    if (tool.type !== undefined && tool.type !== 'custom')
      throw errors.invalidRequest(
        `${param}.type: the server tool '${tool.type}' is not run by this server; only client tools ({"name", "description", "input_schema"}) are supported.`,
        `${param}.type`,
        'unsupported_parameter',
      );
    const name = parseRequest(toolNameSchema, tool.name, [param, 'name']);
    if (names.has(name)) throw errors.invalidRequest(`${param}.name: the tool name '${name}' is listed twice; tool names must be unique.`, `${param}.name`);
    names.add(name);
    if (tool.input_schema === undefined) throw errors.invalidRequest(`Missing required parameter: '${param}.input_schema'.`, `${param}.input_schema`);
    checkJsonSchemaLimits(tool.input_schema, `${param}.input_schema`);
    checkJsonSchemaShape(tool.input_schema, `${param}.input_schema`, { objectRoot: true });
    return {
      type: 'function' as const,
      function: { name, parameters: tool.input_schema, ...(tool.description !== undefined ? { description: tool.description } : {}) },
    };
  });
  const choice = request.tool_choice;
  if (choice === undefined) return definitions.length > 0 ? { tools: definitions } : {};
  if (choice.type !== 'none' && choice.type !== 'auto' && definitions.length === 0)
    throw errors.invalidRequest(`tool_choice: {"type": "${choice.type}"} demands a tool call, but the request lists no tools.`, 'tool_choice');
  if (choice.type === 'tool' && !names.has(choice.name))
    throw errors.invalidRequest(`tool_choice.name: '${choice.name}' is not among the request's tools (${[...names].join(', ')}).`, 'tool_choice.name');
  const toolChoice: ChatCompletionRequest['tool_choice'] =
    choice.type === 'tool' ? { type: 'function', function: { name: choice.name } } : choice.type === 'any' ? 'required' : choice.type;
  const parallel = 'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  return definitions.length > 0 ? { tools: definitions, tool_choice: toolChoice, ...parallel } : {};
}

/**
 * The request's conversation, tools and thought setting as a chat request (what count_tokens
 * renders); `thinking: disabled` is reasoning effort "none" (a template with a switch renders no
 * thought), an enabled budget is passed on apart (see thinkingTokensOf).
 */
export function toChatRequest(request: CountTokensRequest, limits: ImageLimits): ChatCompletionRequest {
  const translator = new MessageTranslator(limits);
  const messages = [...systemMessages(request.system), ...request.messages.flatMap((message, index) => translator.translate(message, index))];
  return {
    model: request.model,
    messages,
    ...toolFields(request),
    ...(request.thinking?.type === 'disabled' ? { reasoning_effort: 'none' as const } : {}),
  };
}

/** A generation request: the conversation plus sampling, limits and streaming. */
export function toChatGenerationRequest(request: MessagesRequest, limits: ImageLimits): ChatCompletionRequest {
  if (request.thinking?.type === 'enabled' && request.thinking.budget_tokens >= request.max_tokens)
    throw errors.invalidRequest('thinking.budget_tokens: must be less than max_tokens (the thought is part of the reply).', 'thinking.budget_tokens');
  return {
    ...toChatRequest(request, limits),
    max_tokens: request.max_tokens,
    ...(request.stop_sequences !== undefined ? { stop: request.stop_sequences.filter((stop) => stop !== '') } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.top_p !== undefined ? { top_p: request.top_p } : {}),
    ...(request.top_k !== undefined ? { top_k: request.top_k } : {}),
    stream: request.stream === true,
  };
}

/** The exact thought budget `thinking: {"type": "enabled", "budget_tokens": N}` asks for (undefined: the model's default). */
export function thinkingTokensOf(request: Pick<MessagesRequest, 'thinking'>): number | undefined {
  return request.thinking?.type === 'enabled' ? request.thinking.budget_tokens : undefined;
}
