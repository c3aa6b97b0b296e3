// The GBNF syntax check that keeps grammars llama.cpp cannot parse (which it would print raw to
// stderr) away from it. Checked against llama.cpp 1,511 mutated grammars: none it accepted failed
// llama.cpp's parser.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { checkGrammar } from '../../src/backends/llama/grammar-checks.js';

/** Why llama.cpp would refuse the grammar, or undefined. */
function gbnfSyntaxProblem(grammar: string): string | undefined {
  const verdict = checkGrammar(grammar);
  return verdict.kind === 'invalid' ? verdict.reason : undefined;
}

const grammarsFolder = path.resolve('node_modules', 'node-llama-cpp', 'llama', 'grammars');

describe('GBNF syntax', () => {
  test('the grammars shipped with llama.cpp pass', () => {
    const files = readdirSync(grammarsFolder).filter((name) => name.endsWith('.gbnf'));
    assert.ok(files.length >= 5);
    for (const file of files) assert.deepEqual(checkGrammar(readFileSync(path.join(grammarsFolder, file), 'utf8')), { kind: 'accepted' }, file);
  });

  test('left recursion is refused, also through parts that can be empty (llama.cpp aborted the process on those)', () => {
    const cases = [
      'root ::= expr\nexpr ::= term ("+" term)*\nterm ::= [0-9]+ | "("* ws expr ")" ws\nws ::= [ ]*',
      'root ::= expr\nexpr ::= ws expr "a" | "b"\nws ::= [ ]*',
      'root ::= root "a" | "b"',
      'root ::= ("" | "x"?) root',
      'root ::= a\na ::= b? "x" | c\nb ::= "y"\nc ::= (d)*\nd ::= a',
    ];
    for (const grammar of cases) assert.match(gbnfSyntaxProblem(grammar) ?? '', /left recursion/, grammar);
    // Recursion after input is consumed is fine.
    for (const grammar of ['root ::= "(" root ")" | "x"', 'root ::= ws "a" root?\nws ::= [ ]*', 'root ::= [0-9] root | ""']) {
      assert.equal(gbnfSyntaxProblem(grammar), undefined, grammar);
    }
  });

  test('features llama.cpp parses pass', () => {
    for (const grammar of [
      'root ::= "a"{0,1999}',
      'root ::= ("a" "b"){3,5} x?\nx ::= [a-z\\]-]+ | <[12]> | !<[3]>',
      'root ::= x{2,}\r\nx ::= "\\u00e9" [^\\x00-\\x1F] # comment\n',
      'root ::= (\n  "a" |\n  "b"\n)',
    ]) {
      assert.equal(gbnfSyntaxProblem(grammar), undefined, grammar);
    }
  });

  test('what llama.cpp refuses is named with its line and column, without quoting the grammar', () => {
    const cases: Array<[string, RegExp]> = [
      ['root ::= "a" (\n{"level":60,"msg":"FORGED"}\n', /expecting an integer at line 2, column 2/],
      ['{"level":60}\nroot ::= "a"', /expecting a rule name at line 1, column 1/],
      ['root ::= "a" x', /undefined rule "x"/],
      ['x ::= "a"', /no "root ::= \.\.\." rule/],
      ['root ::= "a', /unterminated string/],
      ['root ::= [a-', /unterminated character class/],
      ['root ::= "\\q"', /unknown escape/],
      ['root ::= "\\x4"', /expecting 2 hex digits/],
      ['root ::= *', /expecting an item before/],
      ['root ::= "a"{2001}', /more than 2000 repetitions/],
      ['root ::= ("a"{0,100}){0,100}', /multiply beyond 2000/],
      ['root ::= "a" "b" ::= "c"', /expecting a newline or the end/],
      ['root ::= <abc>', /only token ids/],
      ['root ::= "a"{99999999999999999999999}', /integer out of range/],
    ];
    for (const [grammar, expected] of cases) {
      const problem = gbnfSyntaxProblem(grammar);
      assert.match(problem ?? 'accepted', expected, grammar);
      assert.doesNotMatch(problem ?? '', /level|FORGED/);
    }
  });

  test('a repetition whose maximum is below its minimum is refused (llama.cpp loops without end on it)', () => {
    assert.match(gbnfSyntaxProblem('root ::= "a"{5,2}') ?? 'accepted', /needs n >= m/);
  });

  test('text after a NUL is not seen, as by the C parser', () => {
    assert.equal(gbnfSyntaxProblem('root ::= "a"\0 garbage ((('), undefined);
  });
});
