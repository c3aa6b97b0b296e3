// The model's own vocabulary, through its llama-server: /tokenize and /detokenize. Prompts are
// tokenized as the server tokenizes a string prompt (special-token text parsed, BOS when the
// vocabulary asks for it), so that a count made here is the count the server will evaluate.
import type { TokenizeCapability } from '../../engine/contract.js';
import { assertTokensInVocabulary } from '../llama/sampling.js';
import type { LlamaServerConnection } from './connection.js';
import { postJson } from './server-wire.js';

export interface TokenizeRequest {
  /** BOS (and for BERT-style vocabularies CLS … SEP) around the text. */
  addSpecial: boolean;
  /** Special-token text such as "<|im_start|>" becomes its token; false keeps it plain text. */
  parseSpecial?: boolean;
  signal?: AbortSignal;
}

export async function tokenizeOnServer(connection: LlamaServerConnection, text: string, request: TokenizeRequest): Promise<number[]> {
  const answer = await postJson<{ tokens: number[] }>(
    connection,
    '/tokenize',
    { content: text, add_special: request.addSpecial, parse_special: request.parseSpecial ?? true },
    request.signal,
  );
  return answer.tokens;
}

/** The text of tokens: each token's piece, special tokens rendered, concatenated (the server's generated text is built the same way). */
export async function detokenizeOnServer(connection: LlamaServerConnection, tokens: readonly number[], signal?: AbortSignal): Promise<string> {
  if (tokens.length === 0) return '';
  const answer = await postJson<{ content: string }>(connection, '/detokenize', { tokens }, signal);
  return answer.content;
}

export function createServerTokenizer(connection: LlamaServerConnection, settings: { vocabularySize: number }): TokenizeCapability {
  return {
    async tokenize(text, options) {
      return await tokenizeOnServer(connection, text, { addSpecial: options?.addSpecialTokens ?? false });
    },
    async detokenize(tokens) {
      // An id outside the vocabulary would make the server read past its token table.
      assertTokensInVocabulary(tokens, settings.vocabularySize, 'tokens');
      return await detokenizeOnServer(connection, tokens);
    },
  };
}
