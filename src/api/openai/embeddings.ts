// POST /v1/embeddings
import type { Context } from 'koa';
import { errors } from '../../errors.js';
import { embeddingInputs, embeddingRequestSchema } from '../../openai/embedding-request.js';
import { shortenVector, toBase64 } from '../../openai/embedding-encoding.js';
import { checkInputFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal, isAbortError } from '../../http/client-abort.js';
import type { GatewayState } from '../../http/gateway-state.js';
import { openModelFor } from '../resolve-model.js';
import { tokenBudgetOf } from '../../http/request-state.js';

export async function embeddings(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseRequest(embeddingRequestSchema, ctx.request.body);
  const model = await openModelFor(ctx, state, request.model, ['embedding'], '/v1/embeddings');
  const id = model.id;
  ctx.state.access.model = id;
  const limits = model.embeddingLimits();
  const inputs = embeddingInputs(request.input, limits.maxInputs, limits.vocabularySize);
  if (!limits.truncate) {
    inputs.forEach((input, index) => {
      if (typeof input === 'string') checkInputFits(input.length, limits.maxInputTokens, typeof request.input === 'string' ? 'input' : `input[${index}]`);
    });
  }
  const dimensions = request.dimensions ?? undefined;
  if (dimensions !== undefined && dimensions > limits.dimensions) {
    throw errors.invalidRequest(`Invalid 'dimensions': ${dimensions} is larger than the model's ${limits.dimensions}.`, 'dimensions');
  }
  const signal = clientAbortSignal(ctx);
  let result;
  try {
    const prepared = await model.prepareEmbeddings(inputs, signal);
    await tokenBudgetOf(ctx)?.reserve(prepared.tokenCount, 0);
    result = await model.embed(prepared, signal);
  } catch (error) {
    // The client left: nobody reads an answer.
    if (signal.aborted && isAbortError(error)) return;
    throw error;
  }
  const base64 = request.encoding_format === 'base64';
  const promptTokens = result.tokenCounts.reduce((sum, count) => sum + count, 0);
  ctx.state.access.promptTokens = promptTokens;
  ctx.state.usage = { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens };
  ctx.body = {
    object: 'list',
    data: result.vectors.map((vector, index) => {
      const shaped = dimensions !== undefined && dimensions < vector.length ? shortenVector(vector, dimensions) : vector;
      return { object: 'embedding', index, embedding: base64 ? toBase64(shaped) : Array.from(shaped) };
    }),
    model: id,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
