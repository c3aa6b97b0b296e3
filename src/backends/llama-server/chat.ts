// Chat on a llama-server model: the server renders the conversation with the model's template
// (/apply-template) and tokenizes it (/tokenize), once, in prepareChat; generate sends those very
// tokens, so the count the gateway budgets with is the prompt the model evaluates.
import type { ChatCapability, ChatMessage } from '../../engine/contract.js';
import { EngineUnavailableError, UnsupportedFeatureError } from '../../engine/errors.js';
import type { LlamaServerConnection } from './connection.js';
import { generateOnServer, serverPrompt, type ServerGenerationSettings } from './generation.js';
import { postJson } from './server-wire.js';
import { tokenizeOnServer } from './tokenizer.js';

/**
 * The roles as the in-process engine gives them to its template: a developer message is a system
 * message, and a tool result a user turn that says what it is (templates without tool support
 * reject a "tool" role).
 */
function templateMessages(messages: readonly ChatMessage[]): Array<{ role: string; content: string }> {
  return messages.map((message) => {
    switch (message.role) {
      case 'developer':
        return { role: 'system', content: message.content };
      case 'tool':
        return { role: 'user', content: `Tool result${message.name ? ` (${message.name})` : ''}:\n${message.content}` };
      default:
        return { role: message.role, content: message.content };
    }
  });
}

async function renderOnServer(connection: LlamaServerConnection, messages: readonly ChatMessage[]): Promise<string> {
  try {
    const answer = await postJson<{ prompt: string }>(connection, '/apply-template', { messages: templateMessages(messages) });
    return answer.prompt;
  } catch (error) {
    if (error instanceof EngineUnavailableError) throw error;
    // Jinja templates raise on conversations they do not accept (e.g. roles that do not alternate).
    throw new UnsupportedFeatureError(`the model's chat template rejected these messages: ${error instanceof Error ? error.message : String(error)}`, 'prompt');
  }
}

export function createServerChat(connection: LlamaServerConnection, settings: ServerGenerationSettings): ChatCapability {
  return {
    async prepareChat(messages) {
      const rendered = await renderOnServer(connection, messages);
      // As the server's own chat endpoint: special-token text of the template parsed, BOS when the vocabulary asks for it.
      const tokens = await tokenizeOnServer(connection, rendered, { addSpecial: true });
      return serverPrompt({ tokens, promptTokens: tokens.length, trimLeadingWhitespace: true });
    },
    async generate(prompt, options) {
      return await generateOnServer(connection, settings, prompt, options);
    },
  };
}
