// The keys a `backend = "onnx"` model adds to [api.models.ID], with their defaults.
import { z } from 'zod';
import { vectorOutputOptions } from '../vector-options.js';

const nonNegativeInt = z.number().int().nonnegative();

export const onnxModelOptionsSchema = z.strictObject({
  /** ONNX file name inside the folder when it holds several. */
  file: z.string().min(1).optional(),
  execution_providers: z
    .array(z.enum(['cuda', 'cpu']))
    .min(1)
    .default(['cuda', 'cpu']),
  intra_op_threads: nonNegativeInt.optional(),
  inter_op_threads: nonNegativeInt.optional(),
  graph_optimization_level: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
  /**
   * ONNX Runtime's worker threads spin while they wait for work (true) or sleep (false). Spinning
   * takes the cores the gateway's own threads need; it pays only when nothing else runs on them.
   */
  allow_spinning: z.boolean().default(false),
  pooling: z.enum(['mean', 'cls', 'last']).default('mean'),
  ...vectorOutputOptions,
});

export type OnnxModelOptions = z.output<typeof onnxModelOptionsSchema>;
