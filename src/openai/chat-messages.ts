// Wire chat messages → engine messages. Text parts are joined into the message's text; `image_url`
// parts of user messages are checked (src/openai/image-parts.ts) and kept in order beside the text
// parts. A part of another kind (audio, a file) is refused with a 400 naming it rather than
// silently dropped. Whether the model takes images is decided later, at the model-call seam.
//
// Tool history: an assistant message's `tool_calls` (or legacy `function_call`) become its
// toolCalls; a `tool` message must answer a call made earlier in the conversation by its
// `tool_call_id`, and a legacy `function` message answers the latest earlier call of its `name`.
import type { ChatContentPart, ChatMessage, ToolCall } from '../engine/contract.js';
import { errors } from '../errors.js';
import type { ChatCompletionRequest } from './generation-request.js';
import { imageOfPart, type ImageLimits } from './image-parts.js';

type WireMessage = ChatCompletionRequest['messages'][number];

/** The calls made so far in a conversation, to check that each tool result answers one. */
class CallsMade {
  readonly #ids = new Set<string>();
  readonly #byName = new Map<string, string>();
  /** Every id the client gave a call: a legacy call's id is none of them. */
  readonly #clientIds: ReadonlySet<string>;

  constructor(messages: readonly WireMessage[]) {
    this.#clientIds = new Set(messages.flatMap((message) => (message.tool_calls ?? []).map((call) => call.id)));
  }

  /** An id for the legacy call of message `index`, one the client's calls do not have. */
  #legacyId(index: number): string {
    let id = `call_legacy_${index}`;
    while (this.#clientIds.has(id)) id += '_';
    return id;
  }

  /** The engine's calls of an assistant message (its legacy `function_call` gets an id of its own). */
  record(message: WireMessage, index: number): ToolCall[] | undefined {
    if (message.role !== 'assistant') {
      const field = message.tool_calls != null ? 'tool_calls' : message.function_call != null ? 'function_call' : undefined;
      if (field) throw errors.invalidRequest(`'messages[${index}].${field}' is allowed in assistant messages only.`, `messages[${index}].${field}`);
      return undefined;
    }
    const calls: ToolCall[] = (message.tool_calls ?? []).map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
    if (message.function_call != null) {
      if (calls.length > 0)
        throw errors.invalidRequest(`Set either 'messages[${index}].tool_calls' or 'function_call', not both.`, `messages[${index}].function_call`);
      calls.push({ id: this.#legacyId(index), name: message.function_call.name, arguments: message.function_call.arguments });
    }
    calls.forEach((call, callIndex) => {
      if (this.#ids.has(call.id))
        throw errors.invalidRequest(
          `Duplicate tool call id '${call.id}' at 'messages[${index}].tool_calls[${callIndex}].id': each call needs an id of its own.`,
          `messages[${index}].tool_calls[${callIndex}].id`,
        );
      this.#ids.add(call.id);
      this.#byName.set(call.name, call.id);
    });
    return calls.length > 0 ? calls : undefined;
  }

  /** The id of the call a `tool` (or legacy `function`) message answers. */
  answered(message: WireMessage, index: number): string | undefined {
    if (message.role === 'function') {
      const id = message.name === undefined ? undefined : this.#byName.get(message.name);
      if (id === undefined)
        throw errors.invalidRequest(
          `'messages[${index}]' is a function result for '${message.name ?? '(no name)'}', but no earlier assistant message called it.`,
          `messages[${index}].name`,
        );
      return id;
    }
    if (message.role !== 'tool') {
      if (message.tool_call_id !== undefined)
        throw errors.invalidRequest(`'messages[${index}].tool_call_id' is allowed in tool messages only.`, `messages[${index}].tool_call_id`);
      return undefined;
    }
    if (message.tool_call_id === undefined)
      throw errors.invalidRequest(`Missing required parameter: 'messages[${index}].tool_call_id'.`, `messages[${index}].tool_call_id`);
    if (!this.#ids.has(message.tool_call_id))
      throw errors.invalidRequest(
        `'messages[${index}].tool_call_id' is '${message.tool_call_id}', which matches no tool call of an earlier assistant message.`,
        `messages[${index}].tool_call_id`,
      );
    return message.tool_call_id;
  }
}

export function toChatMessages(messages: ChatCompletionRequest['messages'], imageLimits: ImageLimits): ChatMessage[] {
  let images = 0;
  const calls = new CallsMade(messages);
  return messages.map((message, index): ChatMessage => {
    const toolCalls = calls.record(message, index);
    const toolCallId = calls.answered(message, index);
    const role = message.role === 'function' ? 'tool' : message.role;
    const extra = { ...(message.name ? { name: message.name } : {}), ...(toolCalls ? { toolCalls } : {}), ...(toolCallId !== undefined ? { toolCallId } : {}) };
    if (typeof message.content === 'string') return { role, content: message.content, ...extra };
    if (message.content == null) {
      if (message.role !== 'assistant') throw errors.invalidRequest(`Missing required parameter: 'messages[${index}].content'.`, `messages[${index}].content`);
      return { role, content: '', ...extra };
    }
    const parts = message.content.map((part, partIndex): ChatContentPart => {
      const param = `messages[${index}].content[${partIndex}]`;
      if (part.type === 'text') {
        if (typeof part.text !== 'string') throw errors.invalidRequest(`Invalid type for '${param}.text': expected a string.`, `${param}.text`);
        return { type: 'text', text: part.text };
      }
      if (part.type === 'image_url') {
        if (message.role !== 'user')
          throw errors.invalidRequest(`Image parts are accepted in user messages only ('${param}' is in a ${message.role} message).`, param);
        images += 1;
        if (images > imageLimits.maxImagesPerRequest)
          throw errors.invalidRequest(
            `Too many images: this server takes at most ${imageLimits.maxImagesPerRequest} per request (max_images_per_request); '${param}' is one more.`,
            param,
            'too_many_images',
          );
        return { type: 'image', image: imageOfPart(part, param, imageLimits) };
      }
      throw errors.invalidRequest(`Content part type '${part.type}' at '${param}' is not supported: expected 'text' or 'image_url'.`, `${param}.type`);
    });
    const content = parts.map((part) => (part.type === 'text' ? part.text : '')).join('');
    return { role, content, ...(parts.some((part) => part.type === 'image') ? { parts } : {}), ...extra };
  });
}
