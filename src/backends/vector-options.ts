// Model keys shared by the built-in engines that compute vectors and scores themselves (llama,
// onnx); a server behind the remote plugin applies its own.
import { z } from 'zod';

export const vectorOutputOptions = {
  /** L2-normalise embedding vectors. */
  normalize: z.boolean().default(true),
  /** Rerank scores through a sigmoid (0..1) rather than raw logits. */
  sigmoid: z.boolean().default(true),
};
