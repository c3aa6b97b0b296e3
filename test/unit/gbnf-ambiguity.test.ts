// Ambiguity that doubles llama.cpp's parse stacks with every character is refused, naming the rule;
// llama.cpp's own grammars and those node-llama-cpp makes from JSON schemas are not.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkGrammar } from '../../src/backends/llama/grammar-checks.js';
import { loadJsonSchemaToGbnf } from '../../src/backends/llama/grammar.js';
import { toGrammarJsonSchema } from '../../src/backends/llama/json-schema-conversion.js';

const grammarsFolder = path.resolve('node_modules', 'node-llama-cpp', 'llama', 'grammars');

function ambiguity(grammar: string): string | undefined {
  const verdict = checkGrammar(grammar);
  return verdict.kind === 'too-costly' && /ambiguous/.test(verdict.reason) ? verdict.reason : undefined;
}

test('a recursive rule whose alternatives read the same character and recurse is refused, naming the rule', () => {
  // 44 bytes: per-token time grew 4-5× a token (1 s at token 11, 23 s at 13, 386 s at 15).
  assert.match(ambiguity('root ::= x\nx ::= "a" x "b" | "a" x "c" | "d"') ?? 'accepted', /rule "x" is ambiguous/);
  for (const grammar of [
    'root ::= "a" root "b" | "a" root "b" | "d"',
    'root ::= x\nx ::= ("a" x "b" | [a-c] x "c") "e" | "d"',
    'root ::= x\nx ::= "a" y "b" | "a" x "c" | "d"\ny ::= x',
    'root ::= x\nx ::= "ab" x "b" | "a" x "c" | "d"',
    'root ::= x "z"\nx ::= ("a" x)* ("a" x)*',
    'root ::= x "z"\nx ::= ("a" x)? ("a" x "b")+ | "d"',
    'root ::= x\nx ::= ws "a" x "b" | "a" x "c" | "d"\nws ::= [ ]*',
  ]) {
    assert.match(ambiguity(grammar) ?? 'accepted', /is ambiguous in a way that doubles/, grammar);
  }
});

test('unambiguous or tail recursion, and ambiguity that parts after the first string, pass', () => {
  for (const grammar of [
    'root ::= x\nx ::= "a" x "b" | "b" x "c" | "d"',
    // Tail recursion pushes no return place: the stacks stay few.
    'root ::= "a" root | "a" "b" root | "d"',
    'root ::= x\nx ::= "ab" x "c" | "ac" x "d" | "e"',
    // Only one of the alternatives recurses.
    'root ::= x\nx ::= "a" x "b" | "a" "c" | "d"',
    // Not recursive: the ambiguity is as deep as the grammar.
    'root ::= "a" "b" | "a" "c"',
    'root ::= x "z"\nx ::= ("a" x)* ("b" x)*',
  ]) {
    assert.deepEqual(checkGrammar(grammar), { kind: 'accepted' }, grammar);
  }
});

test("llama.cpp's grammars pass", () => {
  const files = readdirSync(grammarsFolder).filter((name) => name.endsWith('.gbnf'));
  assert.ok(files.length >= 8);
  for (const file of files) assert.deepEqual(checkGrammar(readFileSync(path.join(grammarsFolder, file), 'utf8')), { kind: 'accepted' }, file);
});

test('grammars node-llama-cpp makes from everyday JSON schemas pass', async () => {
  const gbnfOf = await loadJsonSchemaToGbnf();
  const person = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'] };
  const schemas: unknown[] = [
    person,
    { type: 'array', items: person },
    { type: 'array', items: { type: 'array', items: { type: 'number' } } },
    { anyOf: [person, { type: 'object', properties: { title: { type: 'string' }, pages: { type: 'integer' } } }] },
    // Objects whose first key is the same: the alternatives share their opening characters.
    { anyOf: [person, { type: 'object', properties: { name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } } }] },
    { type: 'array', items: { anyOf: [person, { type: 'object', properties: { name: { type: 'string' }, email: { type: 'string' } } }] } },
    { type: 'object', properties: { colour: { enum: ['red', 'green', 'greenish', 'blue'] }, size: { enum: [1, 2, 'large', null] } } },
    {
      type: 'object',
      properties: { owner: person, pets: { type: 'array', items: { type: 'object', properties: { kind: { type: 'string' }, owner: person } } } },
    },
    { type: 'object', properties: { value: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }] } } },
    {
      type: 'object',
      properties: { text: { type: 'string', minLength: 1, maxLength: 200 }, list: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 10 } },
    },
    { type: 'object', properties: { meta: { type: 'object', additionalProperties: { type: 'string' } } } },
  ];
  for (const schema of schemas) {
    const grammar = gbnfOf(toGrammarJsonSchema(schema as Record<string, unknown>));
    assert.deepEqual(checkGrammar(grammar), { kind: 'accepted' }, `${JSON.stringify(schema)}\n${grammar}`);
  }
});
