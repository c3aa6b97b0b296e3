// Reranking on a llama-server started with --reranking (a GGUF reranker with rank pooling). The
// server scores each (query, document) pair with the model's classification head and answers the
// logit; it is turned into sigmoid(logit) unless the model's `sigmoid` is false, as on the
// in-process engine. /rerank takes text only, so a document too long for the model is cut here by
// its tokens and sent as the text of those tokens.
import type { RerankCapability } from '../../engine/contract.js';
import { InputTooLongError } from '../../engine/errors.js';
import { cutToCharacterBound } from '../character-bound.js';
import type { LlamaServerConnection } from './connection.js';
import { postJson } from './server-wire.js';
import { detokenizeOnServer, tokenizeOnServer } from './tokenizer.js';

export interface ServerRerankSettings {
  sigmoid: boolean;
  /** Tokens one (query, document) pair may have, special tokens included. */
  maxInputTokens: number;
}

interface RerankAnswer {
  results: Array<{ index: number; relevance_score: number }>;
  usage?: { prompt_tokens?: number };
}

function sigmoid(logit: number): number {
  return 1 / (1 + Math.exp(-logit));
}

/** A cut text can tokenize a little longer than the tokens it came from: it is cut again, this many times at most. */
const RECUT_ATTEMPTS = 4;

export function createServerRerank(connection: LlamaServerConnection, settings: ServerRerankSettings): RerankCapability {
  const { maxInputTokens } = settings;
  const tokenize = (text: string, signal?: AbortSignal): Promise<number[]> =>
    tokenizeOnServer(connection, cutToCharacterBound(text, maxInputTokens), { addSpecial: false, parseSpecial: false, signal });

  let overhead: Promise<number> | undefined;
  /** Tokens the server adds to a pair (BOS, EOS, SEP, or a rerank template's text): the count of an empty pair. */
  const overheadOf = (signal?: AbortSignal): Promise<number> => {
    overhead ??= postJson<RerankAnswer>(connection, '/rerank', { query: '', documents: [''] }, signal).then((answer) => answer.usage?.prompt_tokens ?? 0);
    overhead.catch(() => (overhead = undefined));
    return overhead;
  };

  /** The document's text cut to `room` tokens. */
  const cutDocument = async (tokens: number[], room: number, signal?: AbortSignal): Promise<string> => {
    let keep = room;
    let text = await detokenizeOnServer(connection, tokens.slice(0, keep), signal);
    for (let attempt = 0; attempt < RECUT_ATTEMPTS; attempt++) {
      const length = (await tokenize(text, signal)).length;
      if (length <= room) return text;
      keep -= length - room;
      text = await detokenizeOnServer(connection, tokens.slice(0, Math.max(0, keep)), signal);
    }
    return text;
  };

  return {
    maxInputTokens,
    async rerank(query, documents, options) {
      const [pairOverhead, queryTokens, documentTokens] = await Promise.all([
        overheadOf(options.signal),
        tokenize(query, options.signal),
        Promise.all(documents.map((document) => tokenize(document, options.signal))),
      ]);
      const room = maxInputTokens - pairOverhead - queryTokens.length;
      const texts = await Promise.all(
        documents.map(async (document, index) => {
          const tokens = documentTokens[index];
          if (tokens.length <= room) return document;
          if (!options.truncate || room <= 0) {
            throw new InputTooLongError(
              `document ${index} with the query is ${tokens.length + queryTokens.length + pairOverhead} tokens long, but this model accepts at most ${maxInputTokens}`,
              room <= 0 ? 'query' : 'documents',
            );
          }
          return await cutDocument(tokens, room, options.signal);
        }),
      );
      options.signal?.throwIfAborted();
      const answer = await postJson<RerankAnswer>(connection, '/rerank', { query, documents: texts, top_n: texts.length }, options.signal, 'documents');
      const logits = new Array<number>(documents.length).fill(0);
      for (const result of answer.results) logits[result.index] = result.relevance_score;
      return {
        scores: settings.sigmoid ? logits.map(sigmoid) : logits,
        promptTokens: answer.usage?.prompt_tokens ?? documentTokens.reduce((sum, tokens) => sum + pairOverhead + queryTokens.length + tokens.length, 0),
      };
    },
  };
}
