// A conversation as a llama-server model's chat template renders it (/apply-template): the
// messages in the form the server's template takes, and the rendering itself. Image parts go as
// OpenAI's `image_url` parts, which the server renders as its media marker, one per image, in order.
import type { ChatMessage } from '../../engine/contract.js';
import { EngineUnavailableError, UnsupportedFeatureError } from '../../engine/errors.js';
import type { LlamaServerConnection } from './connection.js';
import { postJson } from './server-wire.js';

type TemplatePart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface TemplateMessage {
  role: string;
  content: string | TemplatePart[];
}

function contentOf(message: ChatMessage): string | TemplatePart[] {
  if (message.parts === undefined) return message.content;
  return message.parts.map((part) => (part.type === 'text' ? part : { type: 'image_url', image_url: { url: part.image.dataUrl } }));
}

/**
 * The roles as the in-process engine gives them to its template: a developer message is a system
 * message, and a tool result a user turn that says what it is (templates without tool support
 * reject a "tool" role).
 */
export function templateMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  return messages.map((message) => {
    switch (message.role) {
      case 'developer':
        return { role: 'system', content: message.content };
      case 'tool':
        return { role: 'user', content: `Tool result${message.name ? ` (${message.name})` : ''}:\n${message.content}` };
      default:
        return { role: message.role, content: contentOf(message) };
    }
  });
}

/**
 * The prompt the server's template renders. `thinking: false` renders it with the template's
 * `enable_thinking = false` (the server's `reasoning_effort: "none"`), for a template that has the switch.
 */
export async function renderOnServer(connection: LlamaServerConnection, messages: readonly TemplateMessage[], thinking = true): Promise<string> {
  try {
    const answer = await postJson<{ prompt: string }>(connection, '/apply-template', { messages, ...(thinking ? {} : { reasoning_effort: 'none' }) });
    return answer.prompt;
  } catch (error) {
    if (error instanceof EngineUnavailableError) throw error;
    // Jinja templates raise on conversations they do not accept (e.g. roles that do not alternate).
    throw new UnsupportedFeatureError(`the model's chat template rejected these messages: ${error instanceof Error ? error.message : String(error)}`, 'prompt');
  }
}
