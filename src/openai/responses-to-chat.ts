// A Responses API request → the chat completion request the chat pipeline answers, and how the
// fields an error may name are spelled in the Responses request (its WireNames).
//
// Items become chat messages as llama.cpp's server and vLLM make them: `instructions` is a system
// message first; a user/system/developer message keeps its text and image parts; an assistant
// message is an assistant turn, and the `function_call` items right after it are that turn's
// tool calls (a `function_call` with no assistant turn before it opens one); a
// `function_call_output` is a `tool` message answering its `call_id`. `reasoning` items are
// accepted and left out of the prompt: the engine contract's messages carry no thought (chat
// completions drop `reasoning_content` the same way), and the thinking templates drop past thoughts.
//
// What the Responses API has of its own (item and part types, call ids, image parts) is checked
// here, naming the Responses field (`input[2].content[0]`); chat's own checks (tools, tool_choice,
// the output format) run in the chat pipeline, and the wire names made here rename their 400s
// (`tools[1].function.name` is `tools[1].name`).
import { errors, GatewayError } from '../errors.js';
import type { ChatCompletionRequest } from './generation-request.js';
import { imageOfPart, type ImageLimits } from './image-parts.js';
import { checkJsonSchemaLimits } from './request-limits.js';
import { newItemId } from './response-ids.js';
import { parseRequest } from './validation.js';
import { functionToolSchema, type FunctionCallItem, type FunctionTool, type InputItem, type MessageItem, type ResponsesRequest } from './responses-request.js';

type ChatMessageBody = ChatCompletionRequest['messages'][number];
type ChatPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: string } };

/** How a request spells the fields the pipeline below names in chat terms (see error-mapping.ts). */
export type ResponsesWireNames = Record<string, string>;

export interface ResponsesPrompt {
  chat: ChatCompletionRequest;
  wireNames: ResponsesWireNames;
  /** The request's input as items with ids: what GET /v1/responses/{id}/input_items lists. */
  inputItems: Array<Record<string, unknown>>;
}

const ITEM_ID_PREFIX: Record<InputItem['type'] & string, string> = {
  message: 'msg',
  function_call: 'fc',
  function_call_output: 'fco',
  reasoning: 'rs',
};

/** The input as items, as OpenAI lists them: a string is one user message; every item gets an id. */
function inputItemsOf(input: ResponsesRequest['input']): InputItem[] {
  const items: InputItem[] = typeof input === 'string' ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: input }] }] : input;
  return items.map((item) => {
    const type = item.type ?? 'message';
    const content = type === 'message' && typeof (item as MessageItem).content === 'string' ? { content: [textPart(item as MessageItem)] } : {};
    return { ...item, type, ...content, id: item.id ?? newItemId(ITEM_ID_PREFIX[type]) } as InputItem;
  });
}

function textPart(message: MessageItem): { type: string; text: string } {
  return { type: message.role === 'assistant' ? 'output_text' : 'input_text', text: message.content as string };
}

/**
 * Refuses an input item id given twice, or already an item of the conversation it continues: the
 * ids of a conversation's items are unique (GET /v1/responses/{id}/input_items pages by them), and
 * OpenAI refuses a duplicate the same way.
 */
function checkItemIdsUnique(input: ResponsesRequest['input'], history: ReadonlyArray<Record<string, unknown>>): void {
  if (typeof input === 'string') return;
  const earlier = new Set(history.map((item) => item.id));
  const seen = new Map<string, number>();
  input.forEach((item, index) => {
    if (item.id === undefined) return;
    const first = seen.get(item.id);
    if (first !== undefined)
      throw errors.invalidRequest(
        `Duplicate item found with id '${item.id}': 'input[${index}].id' repeats 'input[${first}].id'; each item needs an id of its own.`,
        `input[${index}].id`,
      );
    if (earlier.has(item.id))
      throw errors.invalidRequest(
        `Duplicate item found with id '${item.id}': 'input[${index}].id' is already an item of the conversation 'previous_response_id' continues; send only the new items.`,
        `input[${index}].id`,
      );
    seen.set(item.id, index);
  });
}

/** Where an item is in the request, for the errors about it; an item of the previous response's conversation is named by that field. */
type ItemPlace = { param: string; fromRequest: boolean };

/**
 * An image part of a message (`{"type": "input_image", "image_url": "data:…", "detail": …}`), checked
 * as chat's image parts are. The chat pipeline checks it again; checking it here first is what lets
 * a refusal name the Responses field (the second check costs one base64 decode of an accepted image).
 */
function imagePart(part: Record<string, unknown>, param: string, limits: ImageLimits): ChatPart {
  if (part.file_id != null)
    throw errors.invalidRequest(
      `'${param}.file_id' is not supported: there are no uploaded files; send the image as a base64 data URL in 'image_url'.`,
      `${param}.file_id`,
      'unsupported_parameter',
    );
  try {
    imageOfPart({ image_url: { url: part.image_url, detail: part.detail } }, param, limits);
  } catch (error) {
    // The chat check names chat's nesting (`image_url.url`, `image_url.detail`); here both are fields of the part.
    if (!(error instanceof GatewayError)) throw error;
    const rename = (text: string) => text.replaceAll(`${param}.image_url.url`, `${param}.image_url`).replaceAll(`${param}.image_url.detail`, `${param}.detail`);
    throw errors.invalidRequest(rename(error.message), error.param === null ? null : rename(error.param), error.code);
  }
  return { type: 'image_url', image_url: { url: part.image_url as string, ...(part.detail != null ? { detail: part.detail as string } : {}) } };
}

/** The text of a text part, or a 400 naming it. */
function partText(part: Record<string, unknown>, param: string): string {
  if (typeof part.text !== 'string') throw errors.invalidRequest(`Invalid type for '${param}.text': expected a string.`, `${param}.text`);
  return part.text;
}

class MessagesBuilder {
  readonly messages: ChatMessageBody[] = [];
  readonly wireNames: ResponsesWireNames = {};
  readonly #calls = new Set<string>();
  #images = 0;

  constructor(private readonly limits: ImageLimits) {}

  /** Chat message `index` is the request's `param` (and its part j the item's `content[j]`). */
  #push(message: ChatMessageBody, place: ItemPlace): void {
    const index = this.messages.length;
    this.messages.push(message);
    this.wireNames[`messages[${index}]`] = place.param;
    if (Array.isArray(message.content))
      message.content.forEach(
        (_, part) => (this.wireNames[`messages[${index}].content[${part}]`] = place.fromRequest ? `${place.param}.content[${part}]` : place.param),
      );
  }

  instructions(text: string): void {
    this.#push({ role: 'system', content: text }, { param: 'instructions', fromRequest: true });
  }

  add(item: InputItem, place: ItemPlace): void {
    switch (item.type ?? 'message') {
      case 'message':
        return this.#message(item as MessageItem, place);
      case 'function_call':
        return this.#functionCall(item as FunctionCallItem, place);
      case 'function_call_output': {
        const { call_id: callId, output } = item as Extract<InputItem, { type: 'function_call_output' }>;
        if (!this.#calls.has(callId))
          throw errors.invalidRequest(
            `'${place.param}.call_id' is '${callId}', which matches no function_call earlier in the conversation.`,
            place.fromRequest ? `${place.param}.call_id` : place.param,
          );
        const text =
          typeof output === 'string'
            ? output
            : output
                .map((part, index) => {
                  const param = `${place.param}.output[${index}]`;
                  if (part.type !== 'input_text')
                    throw errors.invalidRequest(
                      `Output part type '${part.type}' at '${param}' is not supported: expected 'input_text'.`,
                      `${param}.type`,
                      'unsupported_parameter',
                    );
                  return partText(part, param);
                })
                .join('');
        return this.#push({ role: 'tool', tool_call_id: callId, content: text }, place);
      }
      default:
        // reasoning: accepted, not rendered (see the top of this file).
        return;
    }
  }

  #message(item: MessageItem, place: ItemPlace): void {
    if (typeof item.content === 'string') return this.#push({ role: item.role, content: item.content }, place);
    const assistant = item.role === 'assistant';
    const parts = item.content.map((part, index): ChatPart => {
      const param = `${place.param}.content[${index}]`;
      const accepted = assistant ? ['output_text', 'input_text'] : ['input_text', 'input_image'];
      if (!accepted.includes(part.type))
        throw errors.invalidRequest(
          `Content part type '${part.type}' at '${param}' is not supported in ${item.role} messages: expected ${accepted.map((type) => `'${type}'`).join(' or ')}.`,
          `${param}.type`,
          'unsupported_parameter',
        );
      if (part.type !== 'input_image') return { type: 'text', text: partText(part, param) };
      if (item.role !== 'user') throw errors.invalidRequest(`Image parts are accepted in user messages only ('${param}' is in a ${item.role} message).`, param);
      this.#images += 1;
      if (this.#images > this.limits.maxImagesPerRequest)
        throw errors.invalidRequest(
          `Too many images: this server takes at most ${this.limits.maxImagesPerRequest} per request (max_images_per_request), the previous responses' included; '${param}' is one more.`,
          place.fromRequest ? param : place.param,
          'too_many_images',
        );
      return imagePart(part, param, this.limits);
    });
    // An assistant turn is text: its parts joined, as chat joins an assistant message's text parts.
    if (assistant) return this.#push({ role: 'assistant', content: parts.map((part) => (part.type === 'text' ? part.text : '')).join('') }, place);
    this.#push({ role: item.role, content: parts }, place);
  }

  #functionCall(item: FunctionCallItem, place: ItemPlace): void {
    if (this.#calls.has(item.call_id))
      throw errors.invalidRequest(
        `Duplicate call_id '${item.call_id}' at '${place.param}.call_id': each function_call needs an id of its own.`,
        place.fromRequest ? `${place.param}.call_id` : place.param,
      );
    this.#calls.add(item.call_id);
    const call = { id: item.call_id, type: 'function' as const, function: { name: item.name, arguments: item.arguments } };
    const last = this.messages.at(-1);
    // The calls right after an assistant turn are that turn's.
    if (last?.role === 'assistant') {
      last.tool_calls = [...(last.tool_calls ?? []), call];
      return;
    }
    this.#push({ role: 'assistant', content: null, tool_calls: [call] }, place);
  }
}

/**
 * The request's function tools in chat's shape. Only what is the Responses API's own is checked
 * here (a tool type other than function, the flat tool's fields); chat's checks of tools and
 * tool_choice (duplicate names, a choice naming no tool or demanding a call of none, tools beside
 * an output format, the parameters' schema) run in the chat pipeline, and their 400s name the
 * Responses fields through the wire names made here.
 */
function functionTools(request: ResponsesRequest, wireNames: ResponsesWireNames): FunctionTool[] {
  return (request.tools ?? []).map((tool, index) => {
    if (tool.type !== 'function')
      throw errors.invalidRequest(
        `Tool type '${tool.type}' at 'tools[${index}]' is not supported: only function tools are (the gateway runs no tools of its own).`,
        `tools[${index}].type`,
        'unsupported_parameter',
      );
    const definition = parseRequest(functionToolSchema, tool, [`tools`, index]);
    // Chat's tool is {type, function: {name, parameters, ...}}; a Responses tool is flat.
    wireNames[`tools[${index}].function`] = `tools[${index}]`;
    wireNames[`tools[${index}].function.parameters`] = `tools[${index}].parameters`;
    return definition;
  });
}

function responseFormat(request: ResponsesRequest): ChatCompletionRequest['response_format'] {
  const format = request.text?.format;
  if (!format) return undefined;
  if (format.type !== 'json_schema') return { type: format.type };
  checkJsonSchemaLimits(format.schema, 'text.format.schema');
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name,
      schema: format.schema,
      ...(format.description !== undefined ? { description: format.description } : {}),
      ...(format.strict != null ? { strict: format.strict } : {}),
    },
  };
}

/**
 * The chat request for `request`, continuing `history` (the items of the previous responses'
 * conversation, already checked when they were sent), with the request's input items given ids.
 */
export function responsesToChat(request: ResponsesRequest, history: ReadonlyArray<Record<string, unknown>>, limits: ImageLimits): ResponsesPrompt {
  const builder = new MessagesBuilder(limits);
  // Instructions are the request's own: a continuation does not carry the previous ones (as OpenAI documents).
  if (request.instructions != null && request.instructions !== '') builder.instructions(request.instructions);
  for (const item of history) builder.add(item as unknown as InputItem, { param: 'previous_response_id', fromRequest: false });
  checkItemIdsUnique(request.input, history);
  const inputItems = inputItemsOf(request.input);
  inputItems.forEach((item, index) => builder.add(item, { param: `input[${index}]`, fromRequest: true }));
  if (builder.messages.length === 0) throw errors.invalidRequest("'input' holds no message: reasoning items alone are no prompt.", 'input');
  const wireNames: ResponsesWireNames = {
    prompt: 'input',
    messages: 'input',
    maxTokens: 'max_output_tokens',
    max_completion_tokens: 'max_output_tokens',
    constraint: 'text.format',
    response_format: 'text.format',
    reasoning_effort: 'reasoning.effort',
    reasoningEffort: 'reasoning.effort',
    'tool_choice.function.name': 'tool_choice.name',
    ...builder.wireNames,
  };
  const tools = functionTools(request, wireNames);
  const choice = request.tool_choice;
  const chat: ChatCompletionRequest = {
    model: request.model,
    messages: builder.messages,
    ...(request.max_output_tokens != null ? { max_completion_tokens: request.max_output_tokens } : {}),
    ...(request.temperature != null ? { temperature: request.temperature } : {}),
    ...(request.top_p != null ? { top_p: request.top_p } : {}),
    ...(request.user != null ? { user: request.user } : {}),
    ...(request.stream != null ? { stream: request.stream } : {}),
    ...(request.reasoning?.effort != null ? { reasoning_effort: request.reasoning.effort } : {}),
    ...(request.parallel_tool_calls != null ? { parallel_tool_calls: request.parallel_tool_calls } : {}),
    ...(tools.length > 0
      ? {
          tools: tools.map((tool) => ({
            type: 'function' as const,
            function: {
              name: tool.name,
              ...(tool.description != null ? { description: tool.description } : {}),
              ...(tool.parameters != null ? { parameters: tool.parameters } : {}),
              ...(tool.strict != null ? { strict: tool.strict } : {}),
            },
          })),
        }
      : {}),
    ...(choice != null ? { tool_choice: typeof choice === 'string' ? choice : { type: 'function' as const, function: { name: choice.name } } } : {}),
    ...(request.text?.format ? { response_format: responseFormat(request) } : {}),
  };
  return { chat, wireNames, inputItems: inputItems as unknown as Array<Record<string, unknown>> };
}
