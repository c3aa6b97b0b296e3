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
import { MAX_TOOL_ARGUMENT_CHARACTERS, type ChatCompletionRequest } from '../openai/generation-request.js';
import { imageOfUrl, type ImageLimits } from '../openai/image-parts.js';
import { checkJsonSchemaShape } from '../openai/json-schema-shape.js';
import { checkJsonSchemaLimits } from '../openai/request-limits.js';
import { parseRequest } from '../openai/validation.js';
import { z } from 'zod';
import type { ContentBlock, CountTokensRequest, MessagesRequest } from './messages-request.js';
import { cacheControlSchema, textBlockSchema, toolNameSchema } from './messages-request.js';

type ChatMessageParam = ChatCompletionRequest['messages'][number];
type ChatPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

const imageBlockSchema = z.strictObject({
  type: z.literal('image'),
  cache_control: cacheControlSchema,
  source: z.discriminatedUnion(
    'type',
    [
      z.strictObject({ type: z.literal('base64'), media_type: z.string().max(64), data: z.string() }),
      z.strictObject({ type: z.literal('url'), url: z.string() }),
    ],
    { error: 'expected {"type": "base64", "media_type": "image/png", "data": "..."}' },
  ),
});

/** An earlier reply's call; its `caller` (always direct here) is accepted as echoed back. */
const toolUseBlockSchema = z.strictObject({
  type: z.literal('tool_use'),
  cache_control: cacheControlSchema,
  caller: z.looseObject({ type: z.string().max(64) }).optional(),
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  input: z.record(z.string(), z.unknown()),
});

const toolResultBlockSchema = z.strictObject({
  type: z.literal('tool_result'),
  cache_control: cacheControlSchema,
  tool_use_id: z.string().min(1).max(256),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string().max(64) })).max(1024)]).optional(),
  is_error: z.boolean().optional(),
});

/** The block types a message may hold, by role. */
const BLOCK_TYPES = {
  user: ['text', 'image', 'tool_result'],
  assistant: ['text', 'tool_use', 'thinking', 'redacted_thinking'],
} as const;

/** How the Anthropic request spells the fields (other than its messages) the chat pipeline's errors name. */
function fieldWireNames(request: CountTokensRequest): Record<string, string> {
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
  /**
   * Each chat message's and image part's name in the request (`messages[3].content[1]` →
   * `messages[2].content[1]`): the chat messages are numbered otherwise (a system message first,
   * each tool_result its own message), and an engine's error names the chat message.
   */
  readonly names: Record<string, string> = {};
  #chatMessages = 0;
  /** The calls of the previous assistant message, in order: the next message must answer each of them. */
  #unanswered: string[] = [];
  #images = 0;

  /** `chatOffset`: how many chat messages come before the conversation's (the system message). */
  constructor(limits: ImageLimits, chatOffset: number) {
    this.#limits = limits;
    this.#chatMessages = chatOffset;
  }

  translate(message: MessagesRequest['messages'][number], index: number): ChatMessageParam[] {
    const translated = this.#translate(message, index);
    for (const chat of translated) {
      const at = this.#chatMessages++;
      this.names[`messages[${at}]`] ??= `messages[${index}]`;
      if (Array.isArray(chat.content))
        chat.content.forEach((_, part) => (this.names[`messages[${at}].content[${part}]`] ??= `messages[${index}].content[${this.#partBlocks[part] ?? part}]`));
    }
    return translated;
  }

  /** The block index of each part of the user message just translated. */
  #partBlocks: number[] = [];

  #translate(message: MessagesRequest['messages'][number], index: number): ChatMessageParam[] {
    this.#partBlocks = [];
    const calls = this.#unanswered;
    this.#unanswered = [];
    if (typeof message.content === 'string') {
      this.#checkAnswered(calls, new Set(), index);
      return [{ role: message.role, content: message.content }];
    }
    const param = `messages[${index}].content`;
    if (message.content.length === 0)
      throw errors.invalidRequest(`Invalid '${param}': expected at least 1 content block (or a non-empty string).`, param, 'invalid_request');
    const allowed: readonly string[] = BLOCK_TYPES[message.role];
    message.content.forEach((block, blockIndex) => {
      if (!allowed.includes(block.type))
        throw errors.invalidRequest(
          `${param}[${blockIndex}].type: the block type '${block.type}' is not supported in ${message.role} messages here (expected one of ${allowed.join(', ')}).`,
          `${param}[${blockIndex}].type`,
          'unsupported_parameter',
        );
    });
    return message.role === 'user' ? this.#userMessages(message.content, index, calls) : [this.#assistantMessage(message.content, index, calls)];
  }

  /** Anthropic's rule: every tool_use is answered by a tool_result in the very next message. */
  #checkAnswered(calls: readonly string[], answered: ReadonlySet<string>, index: number): void {
    const missing = calls.filter((id) => !answered.has(id));
    if (missing.length > 0)
      throw errors.invalidRequest(
        `messages[${index}].content: the tool_use block(s) ${missing.map((id) => `'${id}'`).join(', ')} of messages[${index - 1}] need a tool_result block each in this message.`,
        `messages[${index}].content`,
      );
  }

  /**
   * A user message: its tool results first, in the order of the calls they answer (llama-server
   * and the remote upstreams' templates pair results with calls by position), then its text and images.
   */
  #userMessages(blocks: ContentBlock[], index: number, calls: readonly string[]): ChatMessageParam[] {
    const results: Array<{ order: number; param: string; message: ChatMessageParam }> = [];
    const parts: ChatPart[] = [];
    blocks.forEach((block, blockIndex) => {
      const at = ['messages', index, 'content', blockIndex];
      const param = `messages[${index}].content[${blockIndex}]`;
      if (block.type !== 'tool_result') this.#partBlocks.push(blockIndex);
      if (block.type === 'text') parts.push({ type: 'text', text: parseRequest(textBlockSchema, block, at).text });
      else if (block.type === 'image') parts.push(this.#imagePart(parseRequest(imageBlockSchema, block, at), param));
      else {
        const result = parseRequest(toolResultBlockSchema, block, at);
        const order = calls.indexOf(result.tool_use_id);
        if (order < 0)
          throw errors.invalidRequest(
            `${param}.tool_use_id: '${result.tool_use_id}' matches no tool_use block of the previous assistant message${this.#toolUseIds.has(result.tool_use_id) ? ' (it answers an earlier one)' : ''}.`,
            `${param}.tool_use_id`,
          );
        if (results.some((earlier) => earlier.order === order))
          throw errors.invalidRequest(`${param}.tool_use_id: '${result.tool_use_id}' is answered twice in this message.`, `${param}.tool_use_id`);
        results.push({ order, param, message: this.#toolMessage(result, param) });
      }
    });
    this.#checkAnswered(calls, new Set(results.map(({ order }) => calls[order])), index);
    results.sort((a, b) => a.order - b.order);
    results.forEach(({ param }, k) => (this.names[`messages[${this.#chatMessages + k}]`] = param));
    const messages = results.map(({ message }) => message);
    if (parts.length > 0 || messages.length === 0)
      messages.push({ role: 'user', content: parts.every((part) => part.type === 'text') ? joinText(parts) : parts });
    return messages;
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
            .join('\n');
    return { role: 'tool', tool_call_id: block.tool_use_id, content: block.is_error === true ? `Error: ${texts}` : texts };
  }

  #assistantMessage(blocks: ContentBlock[], index: number, calls: readonly string[]): ChatMessageParam {
    this.#checkAnswered(calls, new Set(), index);
    const texts: string[] = [];
    const toolCalls: NonNullable<ChatMessageParam['tool_calls']> = [];
    blocks.forEach((block, blockIndex) => {
      const at = ['messages', index, 'content', blockIndex];
      if (block.type === 'text') texts.push(parseRequest(textBlockSchema, block, at).text);
      else if (block.type === 'tool_use') {
        const use = parseRequest(toolUseBlockSchema, block, at);
        const param = `messages[${index}].content[${blockIndex}]`;
        if (this.#toolUseIds.has(use.id))
          throw errors.invalidRequest(`${param}.id: the tool_use id '${use.id}' is used twice; each call needs an id of its own.`, `${param}.id`);
        this.#toolUseIds.add(use.id);
        const input = JSON.stringify(use.input);
        if (input.length > MAX_TOOL_ARGUMENT_CHARACTERS)
          throw errors.invalidRequest(`${param}.input: longer than ${MAX_TOOL_ARGUMENT_CHARACTERS} characters as JSON.`, `${param}.input`);
        this.#unanswered.push(use.id);
        toolCalls.push({ id: use.id, type: 'function', function: { name: use.name, arguments: input } });
      }
    });
    return { role: 'assistant', content: texts.join(''), ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) };
  }
}

function joinText(parts: ChatPart[]): string {
  return parts.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

function systemMessages(system: MessagesRequest['system']): ChatMessageParam[] {
  if (system === undefined) return [];
  const text = typeof system === 'string' ? system : system.map((block) => block.text).join('\n');
  return text === '' ? [] : [{ role: 'system', content: text }];
}

/**
 * What a client tool may hold: `cache_control` is a no-op (the engines reuse cached prefixes on
 * their own), `eager_input_streaming` one too (arguments stream as they are generated), `strict` is
 * chat's function `strict`. Anything else (input_examples, defer_loading, allowed_callers…) is refused by name.
 */
const CLIENT_TOOL_KEYS = new Set(['type', 'name', 'description', 'input_schema', 'strict', 'cache_control', 'eager_input_streaming']);

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
    const unknown = Object.keys(tool).find((key) => !CLIENT_TOOL_KEYS.has(key));
    if (unknown !== undefined)
      throw errors.invalidRequest(
        `${param}.${unknown}: not supported on a tool here (a tool takes ${[...CLIENT_TOOL_KEYS].join(', ')}).`,
        `${param}.${unknown}`,
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
      function: {
        name,
        parameters: tool.input_schema,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
      },
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
export function toChatRequest(request: CountTokensRequest, limits: ImageLimits): TranslatedRequest {
  const last = request.messages.length - 1;
  if (request.messages[last].role === 'assistant')
    throw errors.invalidRequest(
      `messages[${last}]: the last message is the assistant's (a prefill); continuing a prefilled assistant turn is not supported here: end with a user message.`,
      `messages[${last}]`,
      'unsupported_parameter',
    );
  const choice = request.tool_choice?.type;
  if ((request.thinking?.type === 'enabled' || request.thinking?.type === 'adaptive') && (choice === 'any' || choice === 'tool'))
    throw errors.invalidRequest(
      `thinking: cannot be enabled when tool_choice forces a tool call ({"type": "${choice}"}): the forced call is generated without a thought. Use tool_choice auto or none, or disable thinking.`,
      'thinking',
    );
  const system = systemMessages(request.system);
  const translator = new MessageTranslator(limits, system.length);
  const messages = [...system, ...request.messages.flatMap((message, index) => translator.translate(message, index))];
  return {
    chat: {
      model: request.model,
      messages,
      ...toolFields(request),
      ...(request.thinking?.type === 'disabled' ? { reasoning_effort: 'none' as const } : {}),
    },
    wireNames: { ...translator.names, ...fieldWireNames(request) },
  };
}

/** The chat request, and how the request spells the fields the chat pipeline's errors name (chat name → request name). */
export interface TranslatedRequest {
  chat: ChatCompletionRequest;
  wireNames: Readonly<Record<string, string>>;
}

/** A generation request: the conversation plus sampling, limits and streaming. */
export function toChatGenerationRequest(request: MessagesRequest, limits: ImageLimits): TranslatedRequest {
  if (request.thinking?.type === 'enabled' && request.thinking.budget_tokens >= request.max_tokens)
    throw errors.invalidRequest('thinking.budget_tokens: must be less than max_tokens (the thought is part of the reply).', 'thinking.budget_tokens');
  const { chat, wireNames } = toChatRequest(request, limits);
  return {
    wireNames,
    chat: {
      ...chat,
      max_tokens: request.max_tokens,
      ...(request.stop_sequences !== undefined ? { stop: request.stop_sequences.filter((stop) => stop !== '') } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.top_p !== undefined ? { top_p: request.top_p } : {}),
      ...(request.top_k !== undefined ? { top_k: request.top_k } : {}),
      stream: request.stream === true,
    },
  };
}

/** The exact thought budget `thinking: {"type": "enabled", "budget_tokens": N}` asks for (undefined: the model's default). */
export function thinkingTokensOf(request: Pick<MessagesRequest, 'thinking'>): number | undefined {
  return request.thinking?.type === 'enabled' ? request.thinking.budget_tokens : undefined;
}
