// POST /v1/embeddings
import type { Context } from 'koa';
import { errors } from '../../errors.js';
import { embeddingInputs, embeddingRequestSchema } from '../../openai/embedding-request.js';
import { shortenVector, toBase64 } from '../../openai/embedding-encoding.js';
import { checkInputFits } from '../../openai/request-limits.js';
import { parseRequest } from '../../openai/validation.js';
import { clientAbortSignal, isAbortError } from '../../http/client-abort.js';
import type { GatewayState } from '../../http/gateway-state.js';
import type { AccessDetails } from '../../http/request-state.js';
import { toGatewayError } from '../error-mapping.js';
import { resolveModel } from '../resolve-model.js';
import { tokenBudgetOf } from '../../http/request-state.js';

export async function embeddings(ctx: Context, state: GatewayState): Promise<void> {
  const request = parseRequest(embeddingRequestSchema, ctx.request.body);
  const { entry, model } = await resolveModel(ctx, state, request.model, ['embedding'], '/v1/embeddings');
  (ctx.state.access as AccessDetails).model = entry.id;
  const embedding = model.embedding;
  const batcher = entry.embeddingBatcher;
  if (!embedding || !batcher) throw errors.invalidRequest(`Model '${entry.id}' cannot embed.`, 'model', 'model_type_mismatch');
  const inputs = embeddingInputs(request.input, entry.config.max_inputs, embedding.vocabularySize);
  if (!entry.config.truncate) {
    inputs.forEach((input, index) => {
      if (typeof input === 'string') checkInputFits(input.length, embedding.maxInputTokens, typeof request.input === 'string' ? 'input' : `input[${index}]`);
    });
  }
  const dimensions = request.dimensions ?? undefined;
  if (dimensions !== undefined && dimensions > embedding.dimensions) {
    throw errors.invalidRequest(`Invalid 'dimensions': ${dimensions} is larger than the model's ${embedding.dimensions}.`, 'dimensions');
  }
  const expectedTokens = await embedding.countEmbeddingTokens(inputs, entry.config.truncate).catch((error: unknown) => {
    throw toGatewayError(error);
  });
  await tokenBudgetOf(ctx)?.reserve(expectedTokens.reduce((sum, count) => sum + count, 0), 0);
  const signal = clientAbortSignal(ctx);
  let result;
  try {
    result = await batcher.submit(inputs, { truncate: entry.config.truncate, signal });
  } catch (error) {
    if (signal.aborted && isAbortError(error)) return;
    throw toGatewayError(error);
  }
  const base64 = request.encoding_format === 'base64';
  const promptTokens = result.tokenCounts.reduce((sum, count) => sum + count, 0);
  (ctx.state.access as AccessDetails).promptTokens = promptTokens;
  ctx.state.usage = { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens };
  ctx.body = {
    object: 'list',
    data: result.vectors.map((vector, index) => {
      const shaped = dimensions !== undefined && dimensions < vector.length ? shortenVector(vector, dimensions) : vector;
      return { object: 'embedding', index, embedding: base64 ? toBase64(shaped) : Array.from(shaped) };
    }),
    model: entry.id,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
