// Wire schema and checks of POST /v1/embeddings. `input` is checked by hand so that each
// problem names the index of the offending item, as OpenAI's own errors do.
import { z } from 'zod';
import { modelField } from './model-field.js';
import type { EmbeddingInput } from '../engine/contract.js';
import { errors } from '../errors.js';

export const embeddingRequestSchema = z.looseObject({
  model: modelField,
  input: z.unknown(),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().positive().nullish(),
  user: z.string().max(256).nullish(),
});

export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'number');
}

function checkTokens(tokens: number[], param: string, vocabularySize: number | undefined): void {
  const bad = tokens.findIndex((token) => !Number.isInteger(token) || token < 0 || token > 2 ** 31);
  if (bad >= 0) throw errors.invalidRequest(`Invalid '${param}[${bad}]': expected a token id (a non-negative integer).`, `${param}[${bad}]`);
  if (vocabularySize === undefined) return;
  const unknown = tokens.findIndex((token) => token >= vocabularySize);
  if (unknown >= 0) {
    throw errors.invalidRequest(
      `Invalid '${param}[${unknown}]': token id ${tokens[unknown]} is outside this model's vocabulary (0 to ${vocabularySize - 1}).`,
      `${param}[${unknown}]`,
    );
  }
}

/**
 * The inputs of a request, checked: strings non-empty, token arrays of ids (below
 * `vocabularySize` when the model's is known), at most `maxInputs`.
 */
export function embeddingInputs(input: unknown, maxInputs: number, vocabularySize?: number): EmbeddingInput[] {
  if (input === undefined || input === null) throw errors.invalidRequest("Missing required parameter: 'input'.", 'input');
  if (typeof input === 'string') {
    if (input === '') throw errors.invalidRequest("Invalid 'input': the string must not be empty.", 'input');
    return [input];
  }
  if (!Array.isArray(input))
    throw errors.invalidRequest(
      "Invalid type for 'input': expected a string, an array of strings, an array of token ids, or an array of arrays of token ids.",
      'input',
    );
  if (input.length === 0) throw errors.invalidRequest("Invalid 'input': the array must not be empty.", 'input');
  if (isTokenArray(input)) {
    checkTokens(input, 'input', vocabularySize);
    return [input];
  }
  if (input.length > maxInputs) throw errors.invalidRequest(`Invalid 'input': at most ${maxInputs} inputs per request, found ${input.length}.`, 'input');
  return input.map((item: unknown, index) => {
    const param = `input[${index}]`;
    if (typeof item === 'string') {
      if (item === '') throw errors.invalidRequest(`Invalid '${param}': the string must not be empty.`, param);
      return item;
    }
    if (Array.isArray(item)) {
      if (item.length === 0) throw errors.invalidRequest(`Invalid '${param}': the token array must not be empty.`, param);
      if (!isTokenArray(item)) throw errors.invalidRequest(`Invalid type for '${param}': expected an array of token ids.`, param);
      checkTokens(item, param, vocabularySize);
      return item;
    }
    throw errors.invalidRequest(
      `Invalid type for '${param}': expected a string or an array of token ids, found ${item === null ? 'null' : typeof item}.`,
      param,
    );
  });
}
