// The keys a `backend = "llama"` model adds to [api.models.ID], with their defaults.
import { z } from 'zod';
import { vectorOutputOptions } from '../vector-options.js';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

export const llamaModelOptionsSchema = z.strictObject({
  /** "auto" offloads what fits when a GPU is present; a number fixes the layer count. */
  gpu_layers: z.union([z.literal('auto'), z.literal('max'), nonNegativeInt]).default('auto'),
  /** CPU threads for the engine; 0 lets the engine choose. */
  threads: nonNegativeInt.optional(),
  /** Sequences sharing one context: concurrent requests are batched together. */
  parallel: positiveInt.default(4),
  batch_size: positiveInt.optional(),
  /** A Jinja chat template that replaces the one in the GGUF. */
  chat_template: z.string().min(1).optional(),
  /**
   * Seconds one generated token may take (the decode plus this request's own sampling; the first
   * token, which evaluates the prompt, is not timed); a slower one ends the generation with the same
   * 504 `generation_timeout` before another token is asked for. A step cannot be interrupted, so
   * this bounds a grammar whose cost multiplies at each token to about one step past the limit,
   * where `max_generation_seconds` could be overshot by a step of any length. 30 s is far above an
   * honest step on a CPU (about 1 s for a 70B model at 4 bits; 3 to 10 s for an 8B model when another
   * request's 512-token prompt chunk shares the decode). A 70B model on a CPU that evaluates other
   * requests' long prompts while generating needs more.
   */
  max_token_seconds: z.number().positive().default(30),
  /**
   * Thought tokens a reply may spend, on a model whose template has thinking segments: once they
   * are spent the engine writes the end marker and the model goes on with its answer. 0: no
   * thought (it is closed in the prompt). Absent: no limit but max_tokens. A request's
   * `reasoning_effort` can lower it, never raise it.
   */
  max_thinking_tokens: nonNegativeInt.optional(),
  ...vectorOutputOptions,
});

export type LlamaModelOptions = z.output<typeof llamaModelOptionsSchema>;
