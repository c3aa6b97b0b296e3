// A conversation as a llama-server model's chat template renders it (/apply-template): the
// messages in the form the server's template takes, and the rendering itself. Image parts go as
// OpenAI's `image_url` parts, which the server renders as its media marker, one per image, in order.
// Tool calls, tool results and the tools themselves go in OpenAI's shapes: the template renders them
// in the model's own syntax.
import type { ChatMessage, ToolDefinition } from '../../engine/contract.js';
import { EngineUnavailableError, UnsupportedFeatureError } from '../../engine/errors.js';
import { toolCallsBody, toolsBody } from '../../upstream/chat-messages-body.js';
import type { LlamaServerConnection } from './connection.js';
import { postJson } from './server-wire.js';

type TemplatePart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface TemplateMessage {
  role: string;
  content: string | TemplatePart[];
  tool_calls?: Array<Record<string, unknown>>;
  tool_call_id?: string;
}

/** What the template renders: the messages, and the tools it lists (none: the reply may not call any). */
export interface TemplateConversation {
  messages: TemplateMessage[];
  tools?: readonly ToolDefinition[];
  /** False: the thought is closed in the prompt (the template's `enable_thinking = false`). Default true. */
  thinking?: boolean;
}

function contentOf(message: ChatMessage): string | TemplatePart[] {
  if (message.parts === undefined) return message.content;
  return message.parts.map((part) => (part.type === 'text' ? part : { type: 'image_url', image_url: { url: part.image.dataUrl } }));
}

/**
 * The roles as the in-process engine gives them to its template: a developer message is a system
 * message; a tool result with the id of its call is a "tool" message, and one without (an
 * engine-level caller's) a user turn that says what it is.
 */
export function templateMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  return messages.map((message) => {
    switch (message.role) {
      case 'developer':
        return { role: 'system', content: message.content };
      case 'tool':
        if (message.toolCallId !== undefined) return { role: 'tool', content: message.content, tool_call_id: message.toolCallId };
        return { role: 'user', content: `Tool result${message.name ? ` (${message.name})` : ''}:\n${message.content}` };
      case 'assistant':
        if (message.toolCalls !== undefined && message.toolCalls.length > 0)
          return { role: 'assistant', content: message.content, tool_calls: toolCallsBody(message.toolCalls) };
        return { role: 'assistant', content: contentOf(message) };
      default:
        return { role: message.role, content: contentOf(message) };
    }
  });
}

/** The conversation as /apply-template and the server's counting endpoint take it. */
export function templateBody(conversation: TemplateConversation): Record<string, unknown> {
  const { messages, tools, thinking } = conversation;
  return {
    messages,
    ...(tools === undefined || tools.length === 0 ? {} : { tools: toolsBody(tools) }),
    // The server's way to render with the template's `enable_thinking = false`, for a template that has the switch.
    ...(thinking === false ? { reasoning_effort: 'none' } : {}),
  };
}

export async function renderOnServer(connection: LlamaServerConnection, conversation: TemplateConversation): Promise<string> {
  try {
    const answer = await postJson<{ prompt: string }>(connection, '/apply-template', templateBody(conversation));
    return answer.prompt;
  } catch (error) {
    if (error instanceof EngineUnavailableError) throw error;
    // Jinja templates raise on conversations they do not accept (e.g. roles that do not alternate).
    throw new UnsupportedFeatureError(`the model's chat template rejected these messages: ${error instanceof Error ? error.message : String(error)}`, 'prompt');
  }
}
