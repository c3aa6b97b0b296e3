// Engine chat messages → the `messages` of an OpenAI-compatible request body, for every engine
// and plugin that speaks to such a server (llama-server, the remote plugin's upstreams). A
// message with images goes as the content parts it came as, in order; others as plain text.
import type { ChatContentPart, ChatMessage } from '../engine/contract.js';

export function chatMessagesBody(messages: readonly ChatMessage[]): Array<Record<string, unknown>> {
  return messages.map((message) => {
    const content = message.parts ? message.parts.map(wireContentPart) : message.content;
    return message.name ? { role: message.role, content, name: message.name } : { role: message.role, content };
  });
}

function wireContentPart(part: ChatContentPart): Record<string, unknown> {
  if (part.type === 'text') return { type: 'text', text: part.text };
  const { dataUrl, detail } = part.image;
  return { type: 'image_url', image_url: detail === undefined ? { url: dataUrl } : { url: dataUrl, detail } };
}
