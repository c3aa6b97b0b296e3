// Limits on what a request may ask the event loop to do, checked before the work starts.
//
// Text: a text over the character bound (backends/character-bound.ts: the model's tokens × 16)
// cannot fit the model, so with truncation off it is refused before it is tokenized, and a chat or
// completion prompt over it is refused before it is rendered and tokenized (a 1 MB chat message
// blocked /health 2.1 s on the 2,048-token test model).
//
// JSON Schema: limits on a client's JSON Schema (`response_format.json_schema.schema`, llama.cpp's
// `json_schema`), checked before anything converts, compiles or even stringifies it: the grammar
// is built on the event loop, and its cost grows faster than the schema (a 150,000-value enum
// blocked /health 56 s; a schema nested 3,000 levels deep overflowed JSON.stringify's stack, a
// 500). Compile times below were measured with node-llama-cpp's createGrammarForJsonSchema on
// the CPU of the 2-core test machine.
import { CHARACTERS_PER_TOKEN, characterBound } from '../backends/character-bound.js';
import { errors } from '../errors.js';

function boundDescription(maxTokens: number): string {
  return `${characterBound(maxTokens)} characters (${maxTokens} tokens × ${CHARACTERS_PER_TOKEN} characters per token)`;
}

/** With truncation off, one input (or a query and document together) over the character bound is a 400 naming both limits. */
export function checkInputFits(characters: number, maxTokens: number, param: string): void {
  if (characters <= characterBound(maxTokens)) return;
  throw errors.invalidRequest(
    `Invalid '${param}': ${characters} characters, more than the ${boundDescription(maxTokens)} that can fit this model's limit of ${maxTokens} tokens; truncation is off for this model.`,
    param,
    'context_length_exceeded',
  );
}

/** A prompt (all its messages together) over the character bound of the model's context is a 400, before it is rendered or tokenized. */
export function checkPromptFits(characters: number, contextLength: number | undefined, param: string): void {
  if (contextLength === undefined || characters <= characterBound(contextLength)) return;
  throw errors.invalidRequest(
    `This model's maximum context length is ${contextLength} tokens, which no prompt over ${boundDescription(contextLength)} can fit; the ${param} hold ${characters} characters. Please reduce the ${param}.`,
    param,
    'context_length_exceeded',
  );
}

export const JSON_SCHEMA_LIMITS = {
  /** Serialized size. 128 Ki covers OpenAI's own limit of 120,000 characters of names and values. */
  maxCharacters: 131_072,
  /**
   * JSON nesting (every object and array counts): about 30 levels of nested object schemas, three
   * times the 10 OpenAI allows; checked without recursion, so any depth is refused safely.
   */
  maxDepth: 64,
  /** Enum values in the whole schema, OpenAI's limit: 1,000 values compile in 13 ms, 5,000 in 67 ms. */
  maxEnumValues: 1_000,
  /** Characters of all enum and const strings together: 1,000 values of 60 characters. */
  maxEnumCharacters: 60_000,
  /** Properties in the whole schema: 1,000 compile in 15 ms, 5,000 (OpenAI's limit) in 494 ms. */
  maxProperties: 1_000,
  /**
   * Largest repetition bound (minLength, maxLength, minItems, maxItems, minProperties,
   * maxProperties): each becomes a bounded repetition in the grammar, whose sampling cost grows
   * with the bound; llama.cpp itself refuses bounds over 2,000.
   */
  maxRepetition: 1_000,
  /** Sum of all repetition bounds in the schema: many bounded repetitions add up to a stall. */
  maxTotalRepetition: 5_000,
} as const;

const REPETITION_KEYWORDS = new Set(['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties']);
/** Keywords whose value is one subschema. */
export const SUBSCHEMA_KEYWORDS: ReadonlySet<string> = new Set([
  'items',
  'additionalProperties',
  'not',
  'contains',
  'propertyNames',
  'additionalItems',
  'unevaluatedItems',
  'unevaluatedProperties',
  'if',
  'then',
  'else',
]);
/** Keywords whose value is a list of subschemas. */
export const SUBSCHEMA_LIST_KEYWORDS: ReadonlySet<string> = new Set(['anyOf', 'oneOf', 'allOf', 'prefixItems']);
/** Keywords whose value maps names to subschemas. */
export const SUBSCHEMA_MAP_KEYWORDS: ReadonlySet<string> = new Set(['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas']);

/** What a value is to the schema: a schema (its keys are keywords), a list or map of schemas, `properties` (a map of schemas, counted), or plain data. */
type Role = 'schema' | 'schemas' | 'properties' | 'data';

interface Pending {
  value: unknown;
  path: string;
  depth: number;
  role: Role;
}

/** The JSON path of `key` below `path` (`$.a`, `$[0]`, `$["a b"]`), as error messages name schema positions. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function roleOf(parentRole: Role, key: string): Role {
  if (parentRole === 'schemas' || parentRole === 'properties') return 'schema';
  if (parentRole !== 'schema') return 'data';
  if (SUBSCHEMA_KEYWORDS.has(key)) return 'schema';
  if (key === 'properties') return 'properties';
  if (SUBSCHEMA_MAP_KEYWORDS.has(key) || SUBSCHEMA_LIST_KEYWORDS.has(key)) return 'schemas';
  return 'data';
}

/**
 * Throws a 400 naming the first limit `schema` exceeds, its value and the JSON path in the schema
 * (`$.properties.pick.enum`); `param` is the request field that holds the schema. One pass over
 * the value with an explicit stack, so its cost is linear and its depth cannot overflow anything.
 */
export function checkJsonSchemaLimits(schema: unknown, param: string): void {
  const limits = JSON_SCHEMA_LIMITS;
  const refuse = (path: string, what: string): never => {
    throw errors.invalidRequest(`Invalid '${param}': the JSON schema ${what} (at ${path}).`, param, 'json_schema_too_large');
  };
  let characters = 0;
  let enumValues = 0;
  let enumCharacters = 0;
  let properties = 0;
  let totalRepetition = 0;
  const stack: Pending[] = [{ value: schema, path: '$', depth: 1, role: 'schema' }];
  while (stack.length > 0) {
    const { value, path, depth, role } = stack.pop()!;
    if (typeof value === 'string') {
      characters += value.length + 2;
    } else if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
      characters += String(value).length;
    } else if (typeof value === 'object') {
      if (depth > limits.maxDepth) refuse(path, `is nested deeper than the limit of ${limits.maxDepth} levels`);
      if (Array.isArray(value)) {
        characters += 2 + value.length;
        for (let index = value.length - 1; index >= 0; index--) {
          stack.push({ value: value[index], path: childPath(path, index), depth: depth + 1, role: role === 'schemas' ? 'schema' : 'data' });
        }
      } else {
        const entries = Object.entries(value as Record<string, unknown>);
        characters += 2;
        if (role === 'properties') {
          properties += entries.length;
          if (properties > limits.maxProperties) refuse(path, `has more than the limit of ${limits.maxProperties} properties in all`);
        }
        for (let index = entries.length - 1; index >= 0; index--) {
          const [key, child] = entries[index];
          characters += key.length + 4;
          const here = childPath(path, key);
          if (role === 'schema') {
            if (key === 'enum' && Array.isArray(child)) {
              enumValues += child.length;
              if (enumValues > limits.maxEnumValues) refuse(here, `has more than the limit of ${limits.maxEnumValues} enum values in all`);
              for (const item of child) if (typeof item === 'string') enumCharacters += item.length;
            }
            if (key === 'const' && typeof child === 'string') enumCharacters += child.length;
            if (enumCharacters > limits.maxEnumCharacters)
              refuse(here, `has more than the limit of ${limits.maxEnumCharacters} characters of enum and const values in all`);
            if (REPETITION_KEYWORDS.has(key) && typeof child === 'number') {
              if (child > limits.maxRepetition) refuse(here, `has ${key} ${child}, above the limit of ${limits.maxRepetition} for a repetition bound`);
              if (child > 0) totalRepetition += child;
              if (totalRepetition > limits.maxTotalRepetition)
                refuse(here, `has repetition bounds (minLength, maxLength, minItems, ...) adding up to more than the limit of ${limits.maxTotalRepetition}`);
            }
          }
          stack.push({ value: child, path: here, depth: depth + 1, role: roleOf(role, key) });
        }
      }
    }
    if (characters > limits.maxCharacters) refuse(path, `is larger than the limit of ${limits.maxCharacters} characters`);
  }
}
