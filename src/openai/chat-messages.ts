// Wire chat messages → engine messages. Text parts are joined into the message's text; `image_url`
// parts of user messages are checked (src/openai/image-parts.ts) and kept in order beside the text
// parts. A part of another kind (audio, a file) is refused with a 400 naming it rather than
// silently dropped. Whether the model takes images is decided later, at the model-call seam.
import type { ChatContentPart, ChatMessage } from '../engine/contract.js';
import { errors } from '../errors.js';
import type { ChatCompletionRequest } from './generation-request.js';
import { imageOfPart, type ImageLimits } from './image-parts.js';

export function toChatMessages(messages: ChatCompletionRequest['messages'], imageLimits: ImageLimits): ChatMessage[] {
  let images = 0;
  return messages.map((message, index) => {
    const name = message.name ? { name: message.name } : {};
    if (typeof message.content === 'string') return { role: message.role, content: message.content, ...name };
    if (message.content == null) {
      if (message.role !== 'assistant') throw errors.invalidRequest(`Missing required parameter: 'messages[${index}].content'.`, `messages[${index}].content`);
      return { role: message.role, content: '', ...name };
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
    return { role: message.role, content, ...(parts.some((part) => part.type === 'image') ? { parts } : {}), ...name };
  });
}
