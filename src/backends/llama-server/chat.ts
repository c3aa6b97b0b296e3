// Chat on a llama-server model: the server renders the conversation with the model's template
// (/apply-template) and tokenizes it (/tokenize), once, in prepareChat; generate sends those very
// tokens, so the count the gateway budgets with is the prompt the model evaluates. A conversation
// with images, on a model with a vision projector, is prepared by image-prompt.ts instead.
import type { ChatCapability } from '../../engine/contract.js';
import { promptOpensThought, thinkingBudget, type PromptThought } from '../thought-segments.js';
import { renderOnServer, templateMessages } from './chat-template.js';
import type { LlamaServerConnection } from './connection.js';
import { generateOnServer, serverPrompt, type ServerGenerationSettings } from './generation.js';
import { hasImages, prepareImagePrompt } from './image-prompt.js';
import { tokenizeOnServer } from './tokenizer.js';

/** A model whose process runs with a vision projector. */
export interface ServerVision {
  /** The media marker the process was started with (LLAMA_MEDIA_MARKER): where an image goes in a prompt. */
  mediaMarker: string;
}

export function createServerChat(connection: LlamaServerConnection, settings: ServerGenerationSettings, vision?: ServerVision): ChatCapability {
  return {
    // Without a projector the model-call seam refuses images before prepareChat: none reaches the text path below.
    acceptsImages: vision !== undefined,
    async prepareChat(messages, options) {
      if (vision !== undefined && hasImages(messages)) return await prepareImagePrompt(connection, vision.mediaMarker, messages);
      const thinking = settings.thinking;
      const thinkingOff = thinking !== undefined && thinkingBudget(options?.reasoningEffort, thinking.maxThinkingTokens) === 0;
      let rendered = await renderOnServer(connection, templateMessages(messages), !thinkingOff);
      let thought: PromptThought | undefined;
      if (thinking !== undefined) {
        let opensInThought = promptOpensThought(rendered, thinking.markers);
        // A template without the enable_thinking switch still opened the thought: it is closed here, empty.
        if (opensInThought && thinkingOff) {
          rendered += `\n${thinking.markers.end}\n\n`;
          opensInThought = false;
        }
        thought = { markers: thinking.markers, opensInThought };
      }
      // As the server's own chat endpoint: special-token text of the template parsed, BOS when the vocabulary asks for it.
      const tokens = await tokenizeOnServer(connection, rendered, { addSpecial: true });
      return serverPrompt({ tokens, promptTokens: tokens.length, trimLeadingWhitespace: true, ...(thought !== undefined ? { thought } : {}) });
    },
    async generate(prompt, options) {
      return await generateOnServer(connection, settings, prompt, options);
    },
  };
}
