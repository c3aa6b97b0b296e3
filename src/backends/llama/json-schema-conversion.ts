// Client JSON Schemas (OpenAI `response_format.json_schema`) → the schema subset node-llama-cpp
// compiles to a grammar. Keywords the grammar cannot enforce (pattern, minimum, ...) are refused
// rather than ignored: a constraint that is silently dropped would let output through that does not
// match the client's schema.
import type { GbnfJsonSchema } from 'node-llama-cpp';
import { UnsupportedFeatureError } from '../../engine/errors.js';

type JsonObject = Record<string, unknown>;
type GbnfSchema = GbnfJsonSchema;

const ANNOTATIONS = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly']);
const PRIMITIVE_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
const STRING_FORMATS = new Set(['date-time', 'date', 'time']);
const KEYWORDS_BY_TYPE: Record<string, Set<string>> = {
  string: new Set(['minLength', 'maxLength', 'format']),
  number: new Set(),
  integer: new Set(),
  boolean: new Set(),
  null: new Set(),
  object: new Set(['properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties']),
  array: new Set(['items', 'prefixItems', 'minItems', 'maxItems']),
};
const COMBINATION_KEYWORDS = new Set(['$ref', 'const', 'enum', 'anyOf', 'oneOf', 'allOf']);

const ANY_VALUE: GbnfSchema = {
  oneOf: [{ type: ['string', 'number', 'boolean', 'null'] }, { type: 'object', additionalProperties: true }, { type: 'array' }],
};

function unsupported(path: string, what: string): UnsupportedFeatureError {
  return new UnsupportedFeatureError(`json_schema ${what} at ${path} is not supported by the llama.cpp grammar engine`, 'constraint');
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPrimitive(value: unknown): value is string | number | boolean | null {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

class SchemaConverter {
  readonly definitions: Record<string, GbnfSchema> = {};
  readonly #pendingDefinitions = new Map<string, { schema: unknown; path: string }>();

  collectDefinitions(schema: JsonObject, path: string): void {
    for (const key of ['$defs', 'definitions']) {
      const defs = schema[key];
      if (defs === undefined) continue;
      if (!isObject(defs)) throw unsupported(`${path}.${key}`, 'a non-object definitions list');
      for (const [name, definition] of Object.entries(defs)) {
        if (this.#pendingDefinitions.get(name)?.schema === definition) continue;
        if (this.#pendingDefinitions.has(name)) throw unsupported(`${path}.${key}.${name}`, `a second definition named "${name}"`);
        this.#pendingDefinitions.set(name, { schema: definition, path: `${path}.${key}.${name}` });
      }
    }
  }

  convertDefinitions(): void {
    for (const [name, { schema, path }] of this.#pendingDefinitions) this.definitions[name] = this.convert(schema, path);
  }

  convert(schema: unknown, path: string): GbnfSchema {
    if (schema === true) return ANY_VALUE;
    if (!isObject(schema)) throw unsupported(path, schema === false ? 'a `false` schema' : 'a schema that is not an object');
    if ('nullable' in schema) {
      // OpenAPI's spelling of "or null", which some clients send.
      const { nullable, ...rest } = schema;
      const converted = this.convert(rest, path);
      return nullable === true ? { oneOf: [converted, { type: 'null' }] } : converted;
    }
    if (path !== '$') this.collectDefinitions(schema, path);
    const keywords = Object.keys(schema).filter((key) => !ANNOTATIONS.has(key) && key !== '$defs' && key !== 'definitions');
    const combination = keywords.filter((key) => COMBINATION_KEYWORDS.has(key));
    if (combination.length > 0) {
      const others = keywords.filter((key) => key !== combination[0]);
      if (combination.length > 1 || (others.length > 0 && combination[0] !== 'enum' && combination[0] !== 'const')) {
        throw unsupported(path, `"${combination[0]}" combined with ${others.map((key) => `"${key}"`).join(', ')}`);
      }
      return this.#convertCombination(schema, combination[0], path);
    }

    let type = schema.type;
    if (Array.isArray(type)) {
      if (type.length === 0) throw unsupported(`${path}.type`, 'an empty type list');
      if (type.length > 1) return { oneOf: type.map((single) => this.convert({ ...schema, type: single }, path)) };
      type = type[0];
    }
    if (type === undefined) {
      if (keywords.some((key) => KEYWORDS_BY_TYPE.object.has(key))) type = 'object';
      else if (keywords.some((key) => KEYWORDS_BY_TYPE.array.has(key))) type = 'array';
      else if (keywords.length === 0) return ANY_VALUE;
      else throw unsupported(path, `keyword "${keywords[0]}" without a "type"`);
    }
    if (typeof type !== 'string' || !(type in KEYWORDS_BY_TYPE)) throw unsupported(`${path}.type`, `type ${JSON.stringify(type)}`);

    const allowed = KEYWORDS_BY_TYPE[type];
    const refused = keywords.find((key) => key !== 'type' && !allowed.has(key));
    if (refused !== undefined) throw unsupported(`${path}.${refused}`, `keyword "${refused}" for type "${type}"`);

    if (type === 'string') return this.#convertString(schema, path);
    if (type === 'object') return this.#convertObject(schema, path);
    if (type === 'array') return this.#convertArray(schema, path);
    return { type: type as 'number' | 'integer' | 'boolean' | 'null' };
  }

  #convertCombination(schema: JsonObject, keyword: string, path: string): GbnfSchema {
    const value = schema[keyword];
    if (keyword === 'const') {
      if (!isPrimitive(value)) throw unsupported(`${path}.const`, 'a non-primitive const');
      return { const: value };
    }
    if (keyword === 'enum') {
      if (!Array.isArray(value) || value.length === 0 || !value.every(isPrimitive))
        throw unsupported(`${path}.enum`, 'an enum that is not a list of strings, numbers, booleans or null');
      return { enum: value };
    }
    if (keyword === '$ref') {
      const match = typeof value === 'string' ? /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(value) : null;
      if (match === null) throw unsupported(`${path}.$ref`, `reference ${JSON.stringify(value)} (only "#/$defs/NAME" is)`);
      if (!this.#pendingDefinitions.has(match[1]))
        throw new UnsupportedFeatureError(`json_schema reference ${value} at ${path} names no definition`, 'constraint');
      return { $ref: `#/$defs/${match[1]}` } as unknown as GbnfSchema;
    }
    if (!Array.isArray(value) || value.length === 0) throw unsupported(`${path}.${keyword}`, `an empty or non-list "${keyword}"`);
    if (keyword === 'allOf') {
      if (value.length > 1) throw unsupported(`${path}.allOf`, 'allOf with more than one schema');
      return this.convert(value[0], `${path}.allOf[0]`);
    }
    // anyOf and oneOf generate alike: the grammar emits exactly one of the alternatives.
    return { oneOf: value.map((item, index) => this.convert(item, `${path}.${keyword}[${index}]`)) };
  }

  #convertString(schema: JsonObject, path: string): GbnfSchema {
    const format = schema.format;
    if (format !== undefined) {
      if (typeof format !== 'string' || !STRING_FORMATS.has(format)) throw unsupported(`${path}.format`, `string format ${JSON.stringify(format)}`);
      if (schema.minLength !== undefined || schema.maxLength !== undefined) throw unsupported(path, 'a string length combined with a format');
      return { type: 'string', format: format as 'date-time' | 'date' | 'time' };
    }
    const result: { type: 'string'; minLength?: number; maxLength?: number } = { type: 'string' };
    if (schema.minLength !== undefined) result.minLength = this.#count(schema.minLength, `${path}.minLength`);
    if (schema.maxLength !== undefined) result.maxLength = this.#count(schema.maxLength, `${path}.maxLength`);
    return result;
  }

  #convertObject(schema: JsonObject, path: string): GbnfSchema {
    const properties: Record<string, GbnfSchema> = {};
    if (schema.properties !== undefined) {
      if (!isObject(schema.properties)) throw unsupported(`${path}.properties`, 'properties that are not an object');
      for (const [name, property] of Object.entries(schema.properties)) properties[name] = this.convert(property, `${path}.properties.${name}`);
    }
    const result: Record<string, unknown> = { type: 'object', properties };
    if (schema.required !== undefined) {
      if (!Array.isArray(schema.required) || !schema.required.every((name) => typeof name === 'string'))
        throw unsupported(`${path}.required`, 'a required list that is not strings');
      const missing = schema.required.find((name) => !(name in properties));
      if (missing !== undefined) throw unsupported(`${path}.required`, `required property "${missing}" that is not in properties`);
      result.required = schema.required;
    }
    const additional = schema.additionalProperties;
    if (additional === undefined) {
      // JSON Schema allows any extra property by default; with no properties listed, the object is
      // free-form (emitting only "{}" would be valid but useless). With properties, emitting only
      // them is valid output, and what clients expect.
      if (schema.properties === undefined) result.additionalProperties = true;
    } else if (typeof additional === 'boolean') result.additionalProperties = additional;
    else result.additionalProperties = this.convert(additional, `${path}.additionalProperties`);
    if (schema.minProperties !== undefined) result.minProperties = this.#count(schema.minProperties, `${path}.minProperties`);
    if (schema.maxProperties !== undefined) result.maxProperties = this.#count(schema.maxProperties, `${path}.maxProperties`);
    return result as GbnfSchema;
  }

  #convertArray(schema: JsonObject, path: string): GbnfSchema {
    const result: Record<string, unknown> = { type: 'array' };
    if (schema.prefixItems !== undefined) {
      if (!Array.isArray(schema.prefixItems)) throw unsupported(`${path}.prefixItems`, 'prefixItems that is not a list');
      result.prefixItems = schema.prefixItems.map((item, index) => this.convert(item, `${path}.prefixItems[${index}]`));
    }
    if (schema.items === false) {
      if (result.prefixItems === undefined) throw unsupported(`${path}.items`, '`items: false` without prefixItems');
      result.maxItems = (result.prefixItems as unknown[]).length;
    } else if (schema.items !== undefined && schema.items !== true) result.items = this.convert(schema.items, `${path}.items`);
    if (schema.minItems !== undefined) result.minItems = this.#count(schema.minItems, `${path}.minItems`);
    if (schema.maxItems !== undefined)
      result.maxItems = Math.min(this.#count(schema.maxItems, `${path}.maxItems`), (result.maxItems as number | undefined) ?? Infinity);
    return result as GbnfSchema;
  }

  #count(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw unsupported(path, `a count of ${JSON.stringify(value)}`);
    return value;
  }
}

/** The grammar engine's form of a client schema; throws UnsupportedFeatureError naming what it cannot enforce. */
export function toGrammarJsonSchema(schema: Record<string, unknown>): GbnfSchema {
  const converter = new SchemaConverter();
  converter.collectDefinitions(schema, '$');
  const root = converter.convert(schema, '$');
  converter.convertDefinitions();
  if (Object.keys(converter.definitions).length === 0) return root;
  return { ...(root as object), $defs: converter.definitions } as GbnfSchema;
}
