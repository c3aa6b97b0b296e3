// What the gateway does with an embedding request, for tests that drive an engine directly:
// prepare the inputs (tokenized once, cut, counted), then embed what was prepared.
import type { EmbeddingBatchResult, EmbeddingCapability, EmbeddingInput } from '../../src/engine/contract.js';

export async function prepareAndEmbed(
  embedding: EmbeddingCapability,
  inputs: EmbeddingInput[],
  options: { truncate: boolean; signal?: AbortSignal },
): Promise<EmbeddingBatchResult> {
  return embedding.embed(await embedding.prepare(inputs, options), { signal: options.signal });
}

/** The token count of each input as the engine prepares it. */
export async function preparedTokenCounts(embedding: EmbeddingCapability, inputs: EmbeddingInput[], truncate: boolean): Promise<number[]> {
  return (await embedding.prepare(inputs, { truncate })).map((input) => input.tokenCount);
}
