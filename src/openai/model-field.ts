// The `model` field of every request body that names a model.
import { z } from 'zod';

/**
 * A model id or alias. `""` means the same as an omitted model (the one model that can serve the
 * endpoint): SDK examples and clients without a model setting send it.
 */
export const modelField = z
  .string()
  .max(256)
  .optional()
  .transform((model) => (model === '' ? undefined : model));
