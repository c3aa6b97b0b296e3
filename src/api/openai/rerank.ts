// POST /v1/rerank and /rerank: scores documents against a query, best first.
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { errors } from '../../errors.js';
import { rerankRequestSchema } from '../../openai/rerank-request.js';
import { checkInputFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal, isAbortError } from '../../http/client-abort.js';
import type { GatewayState } from '../../http/gateway-state.js';
import type { AccessDetails } from '../../http/request-state.js';
import { toGatewayError } from '../error-mapping.js';
import { resolveModel } from '../resolve-model.js';
import { tokenBudgetOf } from '../../http/request-state.js';

export async function rerank(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseRequest(rerankRequestSchema, ctx.request.body);
  const { entry, model, scheduler } = await resolveModel(ctx, state, request.model, ['rerank'], '/v1/rerank');
  (ctx.state.access as AccessDetails).model = entry.id;
  const reranker = model.rerank;
  if (!reranker) throw errors.invalidRequest(`Model '${entry.id}' cannot rerank.`, 'model', 'model_type_mismatch');
  if (request.documents.length > entry.config.max_inputs) {
    throw errors.invalidRequest(`Invalid 'documents': at most ${entry.config.max_inputs} documents per request, found ${request.documents.length}.`, 'documents');
  }
  const documents = request.documents.map((document) => (typeof document === 'string' ? document : document.text));
  if (!entry.config.truncate) {
    checkInputFits(request.query.length, reranker.maxInputTokens, 'query');
    documents.forEach((document, index) => checkInputFits(request.query.length + document.length, reranker.maxInputTokens, `documents[${index}]`));
  }
  const signal = clientAbortSignal(ctx);
  let result;
  try {
    result = await scheduler.run(signal, () => reranker.rerank(request.query, documents, { truncate: entry.config.truncate, signal }));
  } catch (error) {
    if (signal.aborted && isAbortError(error)) return;
    throw toGatewayError(error);
  }
  const ranked = result.scores
    .map((score, index) => ({ index, relevance_score: score }))
    .sort((left, right) => right.relevance_score - left.relevance_score || left.index - right.index)
    .slice(0, request.top_n ?? documents.length);
  (ctx.state.access as AccessDetails).promptTokens = result.promptTokens;
  ctx.state.usage = { prompt_tokens: result.promptTokens, completion_tokens: 0, total_tokens: result.promptTokens };
  ctx.body = {
    id: `rerank-${randomUUID()}`,
    object: 'list',
    model: entry.id,
    results: ranked.map((item) => (request.return_documents ? { ...item, document: { text: documents[item.index] } } : item)),
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}
