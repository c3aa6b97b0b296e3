// POST /v1/rerank and /rerank: scores documents against a query, best first.
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { errors } from '../../errors.js';
import { rerankRequestSchema } from '../../openai/rerank-request.js';
import { checkInputFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal, isAbortError } from '../../http/client-abort.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { openModelFor } from '../resolve-model.js';
import { tokenBudgetOf } from '../../http/request-state.js';

export async function rerank(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseRequest(rerankRequestSchema, ctx.request.body);
  const model = await openModelFor(ctx, state, request.model, ['rerank'], '/v1/rerank');
  const id = model.id;
  ctx.state.access.model = id;
  const limits = model.rerankLimits();
  if (request.documents.length > limits.maxDocuments) {
    throw errors.invalidRequest(`Invalid 'documents': at most ${limits.maxDocuments} documents per request, found ${request.documents.length}.`, 'documents');
  }
  const documents = request.documents.map((document) => (typeof document === 'string' ? document : document.text));
  if (!limits.truncate) {
    checkInputFits(request.query.length, limits.maxInputTokens, 'query');
    documents.forEach((document, index) => checkInputFits(request.query.length + document.length, limits.maxInputTokens, `documents[${index}]`));
  }
  const signal = clientAbortSignal(ctx);
  let result;
  try {
    result = await model.rerank(request.query, documents, signal);
  } catch (error) {
    // The client left: nobody reads an answer.
    if (signal.aborted && isAbortError(error)) return;
    throw error;
  }
  const ranked = result.scores
    .map((score, index) => ({ index, relevance_score: score }))
    .sort((left, right) => right.relevance_score - left.relevance_score || left.index - right.index)
    .slice(0, request.top_n ?? documents.length);
  ctx.state.access.promptTokens = result.promptTokens;
  ctx.state.usage = { prompt_tokens: result.promptTokens, completion_tokens: 0, total_tokens: result.promptTokens };
  ctx.body = {
    id: `rerank-${randomUUID()}`,
    object: 'list',
    model: id,
    results: ranked.map((item) => (request.return_documents ? { ...item, document: { text: documents[item.index] } } : item)),
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}
