// Wire chat messages → engine messages: text only. A part of another kind (an image, audio) is
// refused with a 400 naming it rather than silently dropped.
import type { ChatMessage } from '../engine/contract.js';
import { errors } from '../errors.js';
import type { ChatCompletionRequest } from './generation-request.js';

export function toChatMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((message, index) => {
    let content: string;
    if (typeof message.content === 'string') content = message.content;
    else if (message.content == null) {
      if (message.role !== 'assistant') throw errors.invalidRequest(`Missing required parameter: 'messages[${index}].content'.`, `messages[${index}].content`);
      content = '';
    } else {
      content = message.content
        .map((part, partIndex) => {
          const param = `messages[${index}].content[${partIndex}]`;
          if (part.type !== 'text')
            throw errors.invalidRequest(
              `Content part type '${part.type}' at '${param}' is not supported: this model accepts text parts only.`,
              `${param}.type`,
            );
          if (typeof part.text !== 'string') throw errors.invalidRequest(`Invalid type for '${param}.text': expected a string.`, `${param}.text`);
          return part.text;
        })
        .join('');
    }
    return { role: message.role, content, ...(message.name ? { name: message.name } : {}) };
  });
}
