// The one GBNF parser: reads a grammar the way llama.cpp's parser (llama-grammar.cpp,
// llama_grammar_parser::parse) does, with its error checks, before the grammar reaches it, and
// gives each rule's alternatives item by item for the checks that follow (left recursion,
// complexity, ambiguity: gbnf-checks.ts). On a syntax error llama.cpp's parser writes the
// client's whole grammar raw to the process's stderr (fprintf, not the log callback), so a grammar
// holding a newline and a JSON object forged a record in the gateway's log; it also loops without
// end on `x{5,2}` (max below min). Grammars this accepts parse there; it is stricter in that every
// referenced rule must be defined and groups nest at most MAX_GROUP_NESTING deep (deeper is a
// RangeError).

/** llama.cpp's MAX_REPETITION_THRESHOLD: a larger bound means no bound. */
export const MAX_REPETITIONS = 2000;
/** Groups nested deeper than this are refused: llama.cpp's parser recurses once per level. */
export const MAX_GROUP_NESTING = 64;
const UINT64_MAX = 2n ** 64n - 1n;
const UNBOUNDED = -1;
/** Past the last Unicode code point: token ids `<[t]>` are read as the "character" TOKEN_BASE + t. */
const LAST_CODE_POINT = 0x10ffff;
const TOKEN_BASE = 0x110000;
const ANYTHING: CharRanges = [[0, Number.MAX_SAFE_INTEGER]];

/** Sorted, disjoint, inclusive ranges of code points. */
export type CharRanges = ReadonlyArray<readonly [number, number]>;

/** One item of a sequence, as written (repetitions are not expanded). */
export type GbnfItem =
  /** A string, class, `.` or token: what its first character can be, how many elements llama.cpp makes of it, its text if a string. */
  | { kind: 'terminal'; first: CharRanges; elements: number; text?: string }
  | { kind: 'ref'; name: string }
  | { kind: 'group'; alternatives: GbnfItem[][] }
  /** `x*`, `x+`, `x?`, `x{m}`, `x{m,}`, `x{m,n}`; max undefined when unbounded. */
  | { kind: 'repeat'; item: GbnfItem; min: number; max: number | undefined };

export interface GbnfRule {
  /** Alternatives of every definition of the rule. */
  alternatives: GbnfItem[][];
  /** Where it is first defined (an index into the text). */
  at: number;
}

export interface GbnfGrammar {
  characters: number;
  rules: Map<string, GbnfRule>;
}

export class GbnfSyntaxError extends Error {
  constructor(
    readonly what: string,
    readonly index: number,
  ) {
    super(what);
  }
}

/** "at line 2, column 7" for an index into the grammar. */
export function positionIn(text: string, index: number): string {
  const before = text.slice(0, index);
  return `at line ${before.split('\n').length}, column ${index - before.lastIndexOf('\n')}`;
}

/**
 * The union of many sets of ranges, sorted and merged once. Accumulating a union one set at a time
 * re-sorts everything gathered so far at each step: a 20,000-character class took 35 s that way.
 */
export function unionOfAll(sets: readonly CharRanges[]): CharRanges {
  const nonEmpty = sets.filter((set) => set.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  const sorted = nonEmpty.flat().sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [low, high] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && low <= last[1] + 1) last[1] = Math.max(last[1], high);
    else merged.push([low, high]);
  }
  return merged;
}

/** The union of two sets of ranges. */
export function unionOf(left: CharRanges, right: CharRanges): CharRanges {
  return unionOfAll([left, right]);
}

/** Whether two sorted, disjoint sets of ranges share a code point: one walk along both. */
export function overlap(left: CharRanges, right: CharRanges): boolean {
  let [i, j] = [0, 0];
  while (i < left.length && j < right.length) {
    const [lowA, highA] = left[i];
    const [lowB, highB] = right[j];
    if (lowA <= highB && lowB <= highA) return true;
    if (highA < highB) i++;
    else j++;
  }
  return false;
}

function complementOf(ranges: CharRanges): CharRanges {
  const result: Array<[number, number]> = [];
  let next = 0;
  for (const [low, high] of ranges) {
    if (low > next) result.push([next, low - 1]);
    next = Math.max(next, high + 1);
  }
  if (next <= LAST_CODE_POINT) result.push([next, LAST_CODE_POINT]);
  return result;
}

const isDigit = (char: string | undefined) => char !== undefined && char >= '0' && char <= '9';
const isWordChar = (char: string | undefined) => char !== undefined && (/[a-zA-Z-]/.test(char) || isDigit(char));
const ESCAPES: Record<string, number> = { t: 9, r: 13, n: 10, '\\': 92, '"': 34, '[': 91, ']': 93, '-': 45 };

class GbnfParser {
  /** The grammar as the C parser sees it: a C string ends at the first NUL. */
  readonly #text: string;
  readonly #referenced = new Set<string>();
  /** Every rule name seen, defined or referenced: the parser gives each an id. */
  readonly #names = new Set<string>();
  /** Names the parser has made (generated ones hold "_", which rule names cannot). */
  #generated = 0;
  #depth = 0;
  readonly rules = new Map<string, GbnfRule>();

  constructor(grammar: string) {
    const nul = grammar.indexOf('\0');
    this.#text = nul === -1 ? grammar : grammar.slice(0, nul);
  }

  #at(index: number): string | undefined {
    return index < this.#text.length ? this.#text[index] : undefined;
  }

  #symbolCount(): number {
    return this.#names.size + this.#generated;
  }

  parse(): void {
    let index = this.#space(0, true);
    while (index < this.#text.length) index = this.#rule(index);
    if (!this.rules.has('root')) throw new GbnfSyntaxError('no "root ::= ..." rule', 0);
    for (const name of this.#referenced) {
      if (!this.rules.has(name)) throw new GbnfSyntaxError(`undefined rule "${name.slice(0, 40)}"`, this.#text.length);
    }
  }

  #space(start: number, newlineOk: boolean): number {
    let index = start;
    for (;;) {
      const char = this.#at(index);
      if (char === '#') {
        while (index < this.#text.length && this.#text[index] !== '\r' && this.#text[index] !== '\n') index++;
      } else if (char === ' ' || char === '\t' || (newlineOk && (char === '\r' || char === '\n'))) index++;
      else return index;
    }
  }

  #name(start: number): number {
    let index = start;
    while (isWordChar(this.#at(index))) index++;
    if (index === start) throw new GbnfSyntaxError('expecting a rule name', start);
    return index;
  }

  #integer(start: number): [bigint, number] {
    let index = start;
    while (isDigit(this.#at(index))) index++;
    if (index === start) throw new GbnfSyntaxError('expecting an integer', start);
    const value = BigInt(this.#text.slice(start, index));
    if (value > UINT64_MAX) throw new GbnfSyntaxError('integer out of range', start);
    return [value, index];
  }

  /** One character, escapes decoded: its code point and where the next begins. */
  #char(start: number): [number, number] {
    if (this.#at(start) === '\\') {
      const escape = this.#at(start + 1);
      const hexDigits = escape === 'x' ? 2 : escape === 'u' ? 4 : escape === 'U' ? 8 : 0;
      if (hexDigits > 0) {
        const digits = this.#text.slice(start + 2, start + 2 + hexDigits);
        if (!new RegExp(`^[0-9a-fA-F]{${hexDigits}}$`).test(digits)) throw new GbnfSyntaxError(`expecting ${hexDigits} hex digits`, start);
        return [Number.parseInt(digits, 16), start + 2 + hexDigits];
      }
      if (escape !== undefined && escape in ESCAPES) return [ESCAPES[escape], start + 2];
      throw new GbnfSyntaxError('unknown escape', start);
    }
    const codePoint = this.#text.codePointAt(start);
    if (codePoint === undefined) throw new GbnfSyntaxError('unexpected end of input', start);
    return [codePoint, start + (codePoint > 0xffff ? 2 : 1)];
  }

  #rule(start: number): number {
    const nameEnd = this.#name(start);
    const name = this.#text.slice(start, nameEnd);
    this.#names.add(name);
    if (!this.rules.has(name)) this.rules.set(name, { alternatives: [], at: start });
    const alternatives = this.rules.get(name)!.alternatives;
    let index = this.#space(nameEnd, false);
    if (this.#text.slice(index, index + 3) !== '::=') throw new GbnfSyntaxError('expecting "::="', index);
    index = this.#alternates(this.#space(index + 3, true), false, alternatives);
    if (this.#at(index) === '\r') index += this.#at(index + 1) === '\n' ? 2 : 1;
    else if (this.#at(index) === '\n') index++;
    else if (index < this.#text.length) throw new GbnfSyntaxError('expecting a newline or the end', index);
    return this.#space(index, true);
  }

  #alternates(start: number, nested: boolean, into: GbnfItem[][]): number {
    const first: GbnfItem[] = [];
    into.push(first);
    let index = this.#sequence(start, nested, first);
    while (this.#at(index) === '|') {
      const next: GbnfItem[] = [];
      into.push(next);
      index = this.#sequence(this.#space(index + 1, true), nested, next);
    }
    return index;
  }

  #sequence(start: number, nested: boolean, items: GbnfItem[]): number {
    let index = start;
    // Whether an item precedes a repetition operator, and how many rules it stands for.
    let hasItem = false;
    let previousRules = 1;
    const push = (item: GbnfItem, isItem = true): void => {
      items.push(item);
      [hasItem, previousRules] = [isItem, 1];
    };
    const repeat = (at: number, min: bigint, max: bigint | typeof UNBOUNDED) => {
      if (!hasItem) throw new GbnfSyntaxError('expecting an item before */+/?/{', at);
      if (max !== UNBOUNDED && max < min) throw new GbnfSyntaxError('a repetition {m,n} needs n >= m', at);
      const total = max !== UNBOUNDED && max > 0n ? max : min > 0n ? min : 1n;
      if (BigInt(previousRules) * total > BigInt(MAX_REPETITIONS)) throw new GbnfSyntaxError(`repetitions multiply beyond ${MAX_REPETITIONS} rules`, at);
      const optional = max === UNBOUNDED ? 1 : Number(max - min);
      this.#generated += optional;
      hasItem = !(min === 0n && optional === 0);
      previousRules *= Number(total);
      items.push({ kind: 'repeat', item: items.pop()!, min: Number(min), max: max === UNBOUNDED ? undefined : Number(max) });
    };
    for (;;) {
      const char = this.#at(index);
      if (char === undefined) return index;
      const at = index;
      if (char === '"') {
        index++;
        let text = '';
        while (this.#at(index) !== '"') {
          if (index >= this.#text.length) throw new GbnfSyntaxError('unterminated string', at);
          const [codePoint, next] = this.#char(index);
          // llama.cpp takes any 32-bit value from \U; beyond Unicode, a stand-in that stays distinct.
          text += codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : `\u0000${codePoint.toString(16)};`;
          index = next;
        }
        const first = text.codePointAt(0);
        push({ kind: 'terminal', first: first === undefined ? [] : [[first, first]], elements: Math.max(1, [...text].length), text }, text !== '');
        index = this.#space(index + 1, nested);
      } else if (char === '[') {
        index++;
        const negated = this.#at(index) === '^';
        if (negated) index++;
        const pairs: Array<readonly [number, number]> = [];
        let elements = 0;
        while (this.#at(index) !== ']') {
          if (index >= this.#text.length) throw new GbnfSyntaxError('unterminated character class', at);
          const [low, next] = this.#char(index);
          let high = low;
          index = next;
          elements++;
          if (this.#at(index) === '-' && this.#at(index + 1) !== ']') {
            if (index + 1 >= this.#text.length) throw new GbnfSyntaxError('unterminated character class', at);
            [high, index] = this.#char(index + 1);
            elements++;
          }
          pairs.push([Math.min(low, high), Math.max(low, high)]);
        }
        const ranges = unionOfAll([pairs]);
        push({ kind: 'terminal', first: negated ? complementOf(ranges) : ranges, elements: Math.max(1, elements) }, elements > 0);
        index = this.#space(index + 1, nested);
      } else if (char === '<' || char === '!') {
        if (char === '!') index++;
        if (this.#at(index) !== '<') throw new GbnfSyntaxError('expecting "<"', index);
        if (this.#at(index + 1) !== '[') throw new GbnfSyntaxError('only token ids (<[123]>) are accepted as tokens', index);
        const [token, end] = this.#integer(index + 2);
        index = end;
        if (this.#at(index) !== ']' || this.#at(index + 1) !== '>') throw new GbnfSyntaxError('expecting "]>"', index);
        // Any token but one may begin with any character.
        const first: CharRanges = char === '!' || token > 2n ** 40n ? ANYTHING : [[TOKEN_BASE + Number(token), TOKEN_BASE + Number(token)]];
        push({ kind: 'terminal', first, elements: 1 });
        index = this.#space(index + 2, nested);
      } else if (isWordChar(char)) {
        const nameEnd = this.#name(index);
        const name = this.#text.slice(index, nameEnd);
        this.#referenced.add(name);
        this.#names.add(name);
        push({ kind: 'ref', name });
        index = this.#space(nameEnd, nested);
      } else if (char === '(') {
        // Refused as too costly (a RangeError, like a stack overflow on references chained too deep).
        if (++this.#depth > MAX_GROUP_NESTING) throw new RangeError('groups nested too deeply');
        const before = this.#symbolCount();
        this.#generated++;
        const alternatives: GbnfItem[][] = [];
        index = this.#alternates(this.#space(index + 1, true), true, alternatives);
        this.#depth--;
        push({ kind: 'group', alternatives });
        previousRules = Math.max(1, this.#symbolCount() - before);
        if (this.#at(index) !== ')') throw new GbnfSyntaxError('expecting ")"', index);
        index = this.#space(index + 1, nested);
      } else if (char === '.') {
        push({ kind: 'terminal', first: [[0, LAST_CODE_POINT]], elements: 1 });
        index = this.#space(index + 1, nested);
      } else if (char === '*' || char === '+' || char === '?') {
        index = this.#space(index + 1, nested);
        repeat(at, char === '+' ? 1n : 0n, char === '?' ? 1n : UNBOUNDED);
      } else if (char === '{') {
        index = this.#space(index + 1, nested);
        if (!isDigit(this.#at(index))) throw new GbnfSyntaxError('expecting an integer', index);
        const [min, minEnd] = this.#integer(index);
        index = this.#space(minEnd, nested);
        let max: bigint | typeof UNBOUNDED = UNBOUNDED;
        if (this.#at(index) === '}') {
          max = min;
          index = this.#space(index + 1, nested);
        } else if (this.#at(index) === ',') {
          index = this.#space(index + 1, nested);
          if (isDigit(this.#at(index))) {
            const [value, end] = this.#integer(index);
            max = value;
            index = this.#space(end, nested);
          }
          if (this.#at(index) !== '}') throw new GbnfSyntaxError('expecting "}"', index);
          index = this.#space(index + 1, nested);
        } else {
          throw new GbnfSyntaxError('expecting "," or "}"', index);
        }
        if (min > BigInt(MAX_REPETITIONS)) throw new GbnfSyntaxError(`more than ${MAX_REPETITIONS} repetitions`, at);
        // llama.cpp treats a maximum above the threshold as no maximum.
        if (max !== UNBOUNDED && max > BigInt(MAX_REPETITIONS)) max = UNBOUNDED;
        repeat(at, min, max);
      } else {
        return index;
      }
    }
  }
}

/** The grammar's rules; a GbnfSyntaxError where llama.cpp's parser would refuse it. */
export function parseGbnf(text: string): GbnfGrammar {
  const parser = new GbnfParser(text);
  parser.parse();
  return { characters: text.length, rules: parser.rules };
}
