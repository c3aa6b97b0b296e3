// Wire schema of POST /v1/rerank (the shape Cohere, Jina and TEI-compatible clients send).
import { z } from 'zod';
import { modelField } from './model-field.js';

export const rerankRequestSchema = z.looseObject({
  model: modelField,
  query: z.string().min(1),
  documents: z
    .array(z.union([z.string().min(1), z.looseObject({ text: z.string().min(1) })], { error: 'expected a non-empty string or an object {"text": "..."}' }))
    .min(1),
  top_n: z.number().int().positive().nullish(),
  return_documents: z.boolean().nullish(),
});

export type RerankRequest = z.infer<typeof rerankRequestSchema>;
