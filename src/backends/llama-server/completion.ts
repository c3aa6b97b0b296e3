// Raw text completion (/v1/completions) on a llama-server model, and fill-in-the-middle through
// the server's /infill when the vocabulary has FIM tokens. Prompts are tokenized once, as the
// server tokenizes a string prompt: BOS when the vocabulary asks for it, special-token text parsed.
import type { TextCompletionCapability } from '../../engine/contract.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import type { LlamaServerConnection } from './connection.js';
import { generateOnServer, serverPrompt, type ServerGenerationSettings } from './generation.js';
import { tokenizeOnServer } from './tokenizer.js';

export interface ServerCompletionSettings extends ServerGenerationSettings {
  /** Tokens /infill adds around prefix and suffix (FIM tokens, BOS), or undefined when the model has no FIM tokens. */
  infillOverheadTokens?: number;
}

export function createServerTextCompletion(connection: LlamaServerConnection, settings: ServerCompletionSettings): TextCompletionCapability {
  return {
    async prepareText(prompt, options = {}) {
      if (options.suffix !== undefined && options.suffix !== '') {
        if (settings.infillOverheadTokens === undefined) {
          throw new UnsupportedFeatureError(
            `model "${connection.modelId}" does not support suffix (fill-in-the-middle): its vocabulary has no FIM tokens`,
            'suffix',
          );
        }
        // The server's /infill tokenizes prefix and suffix as plain text (no BOS, special-token text kept as text).
        const [prefix, suffix] = await Promise.all([
          tokenizeOnServer(connection, prompt, { addSpecial: false, parseSpecial: false }),
          tokenizeOnServer(connection, options.suffix, { addSpecial: false, parseSpecial: false }),
        ]);
        return serverPrompt({
          tokens: [],
          infill: { prefix, suffix },
          promptTokens: prefix.length + suffix.length + settings.infillOverheadTokens,
          trimLeadingWhitespace: false,
        });
      }
      const tokens = await tokenizeOnServer(connection, prompt, { addSpecial: true });
      if (tokens.length === 0) {
        throw new UnsupportedFeatureError(`model "${connection.modelId}" cannot continue an empty prompt (its vocabulary adds no beginning token)`, 'prompt');
      }
      return serverPrompt({ tokens, promptTokens: tokens.length, trimLeadingWhitespace: false });
    },
    async generate(prompt, options) {
      return await generateOnServer(connection, settings, prompt, options);
    },
  };
}
