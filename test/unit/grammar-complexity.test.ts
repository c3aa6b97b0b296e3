// The grammar complexity estimate: llama.cpp's expansion of repetitions counted before llama.cpp
// parses anything, the attacks of issue 13 refused, and everyday grammars (those node-llama-cpp
// makes from JSON schemas included) let through.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGbnf } from '../../src/backends/llama/gbnf-grammar.js';
import { checkGrammar } from '../../src/backends/llama/grammar-checks.js';
import {
  MAX_GRAMMAR_CHARACTERS,
  MAX_GRAMMAR_ELEMENTS,
  MAX_GRAMMAR_REPETITION_WEIGHT,
  measureGrammar as measureParsed,
} from '../../src/backends/llama/grammar-complexity.js';
import { loadJsonSchemaToGbnf } from '../../src/backends/llama/grammar.js';

const measureGrammar = (text: string) => measureParsed(parseGbnf(text));

/** Why the grammar is refused as too costly (anything else is not accepted either). */
function grammarComplexityProblem(text: string): string | undefined {
  const verdict = checkGrammar(text);
  return verdict.kind === 'accepted' ? undefined : verdict.kind === 'too-costly' ? verdict.reason : `invalid: ${verdict.reason}`;
}

const repeatedOptional = (count: number, bound: number): string => `root ::= ${Array.from({ length: count }, () => `"a"{0,${bound}}`).join(' ')}`;

test('the attack grammars of the issue are refused, naming the limit', () => {
  for (const grammar of [repeatedOptional(400, 1999), repeatedOptional(800, 1999)]) {
    const problem = grammarComplexityProblem(grammar);
    assert.match(problem ?? '', new RegExp(`limit is ${MAX_GRAMMAR_ELEMENTS}`));
  }
  // Small enough to expand, but 40 optional repetitions side by side cost 1.3 s a token (measured).
  assert.match(grammarComplexityProblem(repeatedOptional(40, 100)) ?? '', new RegExp(`repetition weight .* limit is ${MAX_GRAMMAR_REPETITION_WEIGHT}`));
  assert.match(grammarComplexityProblem(`root ::= "${'a'.repeat(MAX_GRAMMAR_CHARACTERS)}"`) ?? '', /characters long; the limit is 65536/);
  assert.match(grammarComplexityProblem(`root ::= ${'('.repeat(5000)}"a"${')'.repeat(5000)}`) ?? '', /nests groups/);
});

test("elements follow llama.cpp's expansion: copies inline, optional copies as rules, groups once", () => {
  // "a"{2,4} in llama.cpp: root = a a ref END; two optional rules (a ALT END) and (a ref ALT END): 11.
  assert.ok(Math.abs(measureGrammar('root ::= "a"{2,4}').elements - 11) <= 1);
  // "a"{0,1999}: 1999 optional rules of about four elements.
  assert.ok(Math.abs(measureGrammar('root ::= "a"{0,1999}').elements - 1999 * 4) <= 1999);
  // A repeated group copies its reference, not its body: additive, as in llama.cpp.
  // (45 × 40: llama.cpp refuses a repeated group whose rules multiply beyond 2,000.)
  const group = measureGrammar('root ::= ("a"{0,45}){0,40}');
  const named = measureGrammar('x ::= "a"{0,45}\nroot ::= x{0,40}');
  assert.ok(Math.abs(group.elements - named.elements) <= 2, `${group.elements} vs ${named.elements}`);
  assert.ok(group.elements < 1000);
});

test('the repetition weight multiplies nesting and side-by-side optional repetitions, not fixed copies', () => {
  assert.equal(measureGrammar('root ::= "a"{0,100}').repetitionWeight, 100);
  assert.equal(measureGrammar(repeatedOptional(10, 100)).repetitionWeight, 10 * 1000);
  assert.equal(measureGrammar('root ::= ("a"{0,45}){0,40}').repetitionWeight, 1800);
  assert.equal(measureGrammar('x ::= "a"{0,45}\nroot ::= x{0,40}').repetitionWeight, 1800);
  // Separated by a required character, repetitions do not compete for the same text.
  assert.equal(measureGrammar('root ::= "a"{0,100} "," "a"{0,100}').repetitionWeight, 200);
  assert.equal(measureGrammar('root ::= "u" [0-9a-f]{4}').repetitionWeight, 0);
  // Recursion adds nothing further (JSON's value ::= ... array ::= "[" value ... is fine).
  assert.equal(grammarComplexityProblem('root ::= value\nvalue ::= "[" (value ("," value)*)? "]" | [0-9]+'), undefined);
});

test('everyday grammars and JSON schema grammars pass', async () => {
  const gbnfOf = await loadJsonSchemaToGbnf();
  const fields = Object.fromEntries(Array.from({ length: 30 }, (_, index) => [`field${index}`, { type: 'string', maxLength: 1000 }]));
  for (const grammar of [
    'root ::= "yes" | "no"',
    'root ::= [0-9]{1,10} ("." [0-9]{1,6})?',
    'root ::= .{0,2000}',
    gbnfOf({ type: 'object', properties: fields }),
    gbnfOf({ type: 'object', properties: { name: { type: 'string', maxLength: 500 }, scores: { type: 'array', items: { type: 'number' }, maxItems: 100 } } }),
  ]) {
    assert.equal(grammarComplexityProblem(grammar), undefined, grammar.slice(0, 80));
  }
});

test("grammars made from JSON schemas are not weighed (their repetitions are delimited); a client's GBNF is", () => {
  const nested =
    'root ::= "[" ( item ( "," item ){0,99} )? "]"\nitem ::= "{" tags "}"\ntags ::= "[" ( tag ( "," tag ){0,9} )? "]"\ntag ::= "\\"" [a-z]{0,50} "\\""';
  assert.match(grammarComplexityProblem(nested) ?? '', /repetition weight/);
  assert.equal(checkGrammar(nested, 'json_schema').kind, 'accepted');
  // Everything else still applies to them.
  assert.equal(checkGrammar('root ::= x\nx ::= x "a" | "b"', 'json_schema').kind, 'invalid');
  assert.equal(checkGrammar(repeatedOptional(400, 1999), 'json_schema').kind, 'too-costly');
});

test('a class of 20,000 characters and 5,000 recursive alternatives are checked quickly (they took 35 s and 870 ms)', () => {
  let characters = '';
  for (let index = 0; index < 20_000; index++) characters += String.fromCodePoint(0x100 + 2 * index);
  const alternatives = Array.from({ length: 5_000 }, (_, index) => `"${String.fromCodePoint(0x100 + 2 * index)}" root`);
  for (const grammar of [`root ::= [${characters}]`, `root ::= ${alternatives.join(' | ')} | "x"`]) {
    const started = performance.now();
    assert.equal(checkGrammar(grammar).kind, 'accepted');
    // About 40-150 ms on a busy 2-core machine; seconds before.
    assert.ok(performance.now() - started < 1_000, `${(performance.now() - started).toFixed(0)} ms`);
  }
  assert.equal(checkGrammar('root ::= "\\UFFFFFFFF"').kind, 'accepted');
});
