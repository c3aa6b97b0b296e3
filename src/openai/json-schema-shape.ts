// Is a client's JSON Schema a JSON Schema at all? A tool's `parameters` is checked here, on the
// wire, before any model is involved: a schema that no validator could read (a `type` that is not
// a JSON type, `required` that is not a list of names, `properties` that are not schemas) is a 400
// naming the request field and the JSON path in the schema. Whether an engine can *enforce* every
// keyword of a valid schema is the engine's question (it refuses what it cannot, naming tool and
// keyword). Run after checkJsonSchemaLimits, so the depth and size are already bounded.
import { errors } from '../errors.js';
import { childPath, SUBSCHEMA_KEYWORDS, SUBSCHEMA_LIST_KEYWORDS, SUBSCHEMA_MAP_KEYWORDS } from './request-limits.js';

type JsonObject = Record<string, unknown>;

const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);
const COUNT_KEYWORDS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minContains', 'maxContains'];
const NUMBER_KEYWORDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Throws a 400 when `schema` is not a valid JSON Schema, or (with `objectRoot`) when its root does
 * not describe a JSON object (a function's arguments are always an object).
 */
export function checkJsonSchemaShape(schema: unknown, param: string, options: { objectRoot?: boolean } = {}): void {
  const refuse = (path: string, what: string): never => {
    throw errors.invalidRequest(`Invalid schema for '${param}': ${what} (at ${path}).`, param, 'invalid_json_schema');
  };
  if (options.objectRoot) {
    if (!isObject(schema)) refuse('$', 'expected a JSON Schema object');
    const type = (schema as JsonObject).type;
    if (type !== undefined && type !== 'object') refuse('$.type', `a function's parameters must be of type "object", found ${JSON.stringify(type)}`);
  }
  const visit = (node: unknown, path: string): void => {
    if (typeof node === 'boolean') return;
    if (!isObject(node)) return refuse(path, 'expected a schema (an object or a boolean)');
    const type = node.type;
    if (type !== undefined) {
      const types = Array.isArray(type) ? type : [type];
      if (types.length === 0 || types.some((item) => typeof item !== 'string' || !JSON_TYPES.has(item)) || new Set(types).size !== types.length)
        refuse(childPath(path, 'type'), `"type" must be one of ${[...JSON_TYPES].join(', ')} or a list of distinct ones, found ${JSON.stringify(type)}`);
    }
    const required = node.required;
    if (required !== undefined && (!Array.isArray(required) || required.some((item) => typeof item !== 'string') || new Set(required).size !== required.length))
      refuse(childPath(path, 'required'), '"required" must be a list of distinct property names');
    if (node.enum !== undefined && (!Array.isArray(node.enum) || node.enum.length === 0)) refuse(childPath(path, 'enum'), '"enum" must be a non-empty list');
    if (node.$ref !== undefined && typeof node.$ref !== 'string') refuse(childPath(path, '$ref'), '"$ref" must be a string');
    if (node.pattern !== undefined) {
      if (typeof node.pattern !== 'string') refuse(childPath(path, 'pattern'), '"pattern" must be a string');
      try {
        new RegExp(node.pattern as string, 'u');
      } catch {
        refuse(childPath(path, 'pattern'), `"pattern" is not a valid regular expression`);
      }
    }
    for (const key of COUNT_KEYWORDS)
      if (node[key] !== undefined && !(Number.isInteger(node[key]) && (node[key] as number) >= 0))
        refuse(childPath(path, key), `"${key}" must be a non-negative integer`);
    for (const key of NUMBER_KEYWORDS)
      if (node[key] !== undefined && typeof node[key] !== 'number' && !(typeof node[key] === 'boolean' && key.startsWith('exclusive')))
        refuse(childPath(path, key), `"${key}" must be a number`);
    for (const key of SUBSCHEMA_KEYWORDS) if (node[key] !== undefined && !(key === 'items' && Array.isArray(node[key]))) visit(node[key], childPath(path, key));
    if (Array.isArray(node.items)) (node.items as unknown[]).forEach((item, index) => visit(item, childPath(childPath(path, 'items'), index)));
    for (const key of SUBSCHEMA_LIST_KEYWORDS) {
      const list = node[key];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.length === 0) refuse(childPath(path, key), `"${key}" must be a non-empty list of schemas`);
      (list as unknown[]).forEach((item, index) => visit(item, childPath(childPath(path, key), index)));
    }
    for (const key of SUBSCHEMA_MAP_KEYWORDS) {
      const map = node[key];
      if (map === undefined) continue;
      if (!isObject(map)) refuse(childPath(path, key), `"${key}" must be an object of schemas`);
      for (const [name, child] of Object.entries(map as JsonObject)) visit(child, childPath(childPath(path, key), name));
    }
  };
  visit(schema, '$');
}
