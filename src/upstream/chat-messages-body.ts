// Engine chat messages → the `messages` of an OpenAI-compatible request body, for every engine
// and plugin that speaks to such a server (llama-server, the remote plugin's upstreams). A
// message with images goes as the content parts it came as, in order; others as plain text. Tool
// calls, tool results and tool definitions go in OpenAI's shapes, which llama-server's templates
// read too.
import type { ChatContentPart, ChatMessage, ToolCall, ToolDefinition } from '../engine/contract.js';

export function chatMessagesBody(messages: readonly ChatMessage[]): Array<Record<string, unknown>> {
  return messages.map((message) => {
    const calls = message.toolCalls !== undefined && message.toolCalls.length > 0;
    // An assistant turn that only calls has null content, as OpenAI writes it.
    const content = message.parts ? message.parts.map(wireContentPart) : calls && message.content === '' ? null : message.content;
    return {
      role: message.role,
      content,
      ...(message.name ? { name: message.name } : {}),
      ...(calls ? { tool_calls: toolCallsBody(message.toolCalls!) } : {}),
      ...(message.toolCallId !== undefined ? { tool_call_id: message.toolCallId } : {}),
    };
  });
}

/** An assistant message's `tool_calls`. */
export function toolCallsBody(calls: readonly ToolCall[]): Array<Record<string, unknown>> {
  return calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
}

/** A request's `tools`. */
export function toolsBody(definitions: readonly ToolDefinition[]): Array<Record<string, unknown>> {
  return definitions.map((definition) => ({
    type: 'function',
    function: {
      name: definition.name,
      ...(definition.description !== undefined ? { description: definition.description } : {}),
      parameters: definition.parameters,
      ...(definition.strict !== undefined ? { strict: definition.strict } : {}),
    },
  }));
}

function wireContentPart(part: ChatContentPart): Record<string, unknown> {
  if (part.type === 'text') return { type: 'text', text: part.text };
  const { dataUrl, detail } = part.image;
  return { type: 'image_url', image_url: detail === undefined ? { url: dataUrl } : { url: dataUrl, detail } };
}
