// Chat prompts with images on a llama-server model with a vision projector (--mmproj). Such a
// prompt cannot be sent as token ids: the server itself cuts the rendered text at its media
// marker, tokenizes the pieces and turns each image into the projector's tokens (mtmd). So the
// prompt goes to /completion as text and images, and its count comes from the server's own
// counting endpoint (/v1/chat/completions/input_tokens), which runs that very tokenization with
// each image decoded and sized but not encoded: exact for every projector, fixed-size or not,
// before anything is queued. Client text that spells a special token is refused here (see client-text.ts).
import { chatPartField, type ChatImage, type ChatMessage, type ToolDefinition } from '../../engine/contract.js';
import { InvalidImageError, UnsupportedFeatureError } from '../../engine/errors.js';
import { renderOnServer, templateBody, templateMessages, type TemplateConversation, type TemplateMessage } from './chat-template.js';
import { textsSpellingSpecialTokens } from './client-text.js';
import type { LlamaServerConnection } from './connection.js';
import { serverPrompt, type ServerPrompt } from './generation.js';
import { postJson } from './server-wire.js';
import { tokenizeOnServer } from './tokenizer.js';

/** A prompt with images as /completion takes it: `{prompt_string, multimodal_data}`. */
export interface MediaPrompt {
  /** The rendered conversation with the server's media marker where each image goes. */
  text: string;
  /** The images, base64, in the order of the markers. */
  images: string[];
  /**
   * Whether the server may reuse a cached prefix for it. llama-server (this build) fails a request
   * with "Chunk not found" when the reused prefix ends inside an image; that happens when the whole
   * prompt is cached and it ends with an image (the server steps back one token), so such a prompt
   * is evaluated afresh.
   */
  cacheable: boolean;
}

/**
 * What goes between two images with nothing between them. llama-server (this build) fails a
 * request with "Chunk not found" when a cached prefix ends between two adjacent images (measured:
 * the same first image, another second one, after any earlier request with that first image), and
 * a slot's cache holds whatever prompt it served last; a prompt never holding two adjacent images
 * never meets it. The model sees a newline between them, and the count includes its tokens.
 */
const IMAGE_SEPARATOR = '\n';

interface ImageAt {
  image: ChatImage;
  /** Its internal field name (messages[i].parts[j]), for errors. */
  field: string;
}

function imagesOf(messages: readonly ChatMessage[]): ImageAt[] {
  return messages.flatMap((message, messageIndex) =>
    (message.parts ?? []).flatMap((part, partIndex) => (part.type === 'image' ? [{ image: part.image, field: chatPartField(messageIndex, partIndex) }] : [])),
  );
}

export function hasImages(messages: readonly ChatMessage[]): boolean {
  return messages.some((message) => message.parts?.some((part) => part.type === 'image') === true);
}

function base64Of(image: ChatImage): string {
  return image.dataUrl.slice(image.dataUrl.indexOf(',') + 1);
}

async function inputTokens(connection: LlamaServerConnection, conversation: TemplateConversation, field?: string): Promise<number> {
  const answer = await postJson<{ input_tokens: number }>(connection, '/v1/chat/completions/input_tokens', templateBody(conversation), undefined, field);
  return answer.input_tokens;
}

/**
 * The server's count of the conversation. An image its decoder cannot read fails the whole
 * count; each image is then counted alone to name the one at fault (a rare path: the wire already
 * refused images whose first bytes are not of their type).
 */
async function countOnServer(connection: LlamaServerConnection, conversation: TemplateConversation, images: readonly ImageAt[]): Promise<number> {
  try {
    return await inputTokens(connection, conversation);
  } catch (error) {
    if (!(error instanceof InvalidImageError)) throw error;
    for (const { image, field } of images) {
      const alone: TemplateMessage[] = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image.dataUrl } }] }];
      await inputTokens(connection, { messages: alone }, field).catch((failure: unknown) => {
        if (failure instanceof InvalidImageError) throw failure;
      });
    }
    throw new InvalidImageError(error.message, images[0]?.field);
  }
}

/** The rendered prompt with IMAGE_SEPARATOR between images that have nothing between them. */
function separateAdjacentImages(rendered: string, marker: string): { text: string; separators: number; endsWithImage: boolean } {
  const pieces = rendered.split(marker);
  let separators = 0;
  for (let index = 1; index < pieces.length - 1; index++) {
    if (pieces[index] === '') {
      pieces[index] = IMAGE_SEPARATOR;
      separators++;
    }
  }
  return { text: pieces.join(marker), separators, endsWithImage: pieces.length > 1 && pieces[pieces.length - 1] === '' };
}

/**
 * Renders and counts a conversation with images (and the tools the template lists, if any);
 * `mediaMarker` is the one the model's process was started with.
 */
export async function prepareImagePrompt(
  connection: LlamaServerConnection,
  mediaMarker: string,
  messages: readonly ChatMessage[],
  tools?: readonly ToolDefinition[],
): Promise<ServerPrompt> {
  const templated: TemplateConversation = { messages: templateMessages(messages), tools };
  // The server tokenizes a prompt with images itself, special-token text parsed throughout: client text spelling a special token would become that token.
  const [spelling] = await textsSpellingSpecialTokens(connection, templated.messages);
  if (spelling !== undefined)
    throw new UnsupportedFeatureError(
      `${spelling.field} holds the text of a special token of the model's vocabulary; in a conversation with images the llama-server engine cannot keep it plain text`,
      spelling.field,
    );
  const images = imagesOf(messages);
  const rendered = await renderOnServer(connection, templated);
  const markers = rendered.split(mediaMarker).length - 1;
  // A template that drops a message, or text that spells the marker, would pair images with the wrong places.
  if (markers !== images.length)
    throw new UnsupportedFeatureError(`the model's chat template placed ${markers} of this conversation's ${images.length} images`, images[0]?.field);
  const counted = await countOnServer(connection, templated, images);
  const { text, separators, endsWithImage } = separateAdjacentImages(rendered, mediaMarker);
  // The server tokenizes each piece between images on its own, as /tokenize does without BOS.
  const separatorTokens = separators === 0 ? 0 : separators * (await tokenizeOnServer(connection, IMAGE_SEPARATOR, { addSpecial: false })).length;
  const media: MediaPrompt = { text, images: images.map(({ image }) => base64Of(image)), cacheable: !endsWithImage };
  return serverPrompt({ tokens: [], media, promptTokens: counted + separatorTokens, trimLeadingWhitespace: true });
}
