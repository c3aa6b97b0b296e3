// Checks a GBNF grammar's syntax the way llama.cpp's parser (llama-grammar.cpp,
// llama_grammar_parser::parse) does, before the grammar reaches it. On a syntax error that parser
// writes the client's whole grammar raw to the process's stderr (fprintf, not the log callback),
// so a grammar holding a newline and a JSON object forged a record in the gateway's log; it
// also loops without end on `x{5,2}` (max below min). Grammars this accepts parse there; it is
// stricter in two places: every referenced rule must be defined, and no rule may reach itself
// before consuming input (left recursion). llama.cpp's own check misses left recursion through a
// part that can be empty (`expr ::= ws expr "a" | "b"` with `ws ::= [ ]*`): building such a
// grammar allocated until the process aborted (std::bad_alloc), taking every model down with it.

/** llama.cpp's MAX_REPETITION_THRESHOLD. */
const MAX_REPETITIONS = 2000;
const UINT64_MAX = 2n ** 64n - 1n;
const UNBOUNDED = -1;

/** What the left-recursion check needs of a grammar: each rule's alternatives, item by item. */
type Item = { kind: 'ref'; name: string; optional: boolean } | { kind: 'terminal'; empty: boolean; optional: boolean } | { kind: 'group'; alternatives: Item[][]; optional: boolean };

class GbnfSyntaxError extends Error {
  constructor(readonly what: string, readonly index: number) {
    super(what);
  }
}

const isDigit = (char: string | undefined) => char !== undefined && char >= '0' && char <= '9';
const isWordChar = (char: string | undefined) => char !== undefined && (/[a-zA-Z-]/.test(char) || isDigit(char));

class GbnfChecker {
  /** The grammar as the C parser sees it: a C string ends at the first NUL. */
  readonly #text: string;
  readonly #defined = new Set<string>();
  readonly #referenced = new Set<string>();
  /** Every rule name seen, defined or referenced: the parser gives each an id. */
  readonly #names = new Set<string>();
  /** Names the parser has made (generated ones hold "_", which rule names cannot). */
  #generated = 0;
  /** Each rule's alternatives, and where it is first defined. */
  readonly #rules = new Map<string, { alternatives: Item[][]; at: number }>();

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

  check(): void {
    let index = this.#space(0, true);
    while (index < this.#text.length) index = this.#rule(index);
    if (!this.#defined.has('root')) throw new GbnfSyntaxError('no "root ::= ..." rule', 0);
    for (const name of this.#referenced) {
      if (!this.#defined.has(name)) throw new GbnfSyntaxError(`undefined rule "${name.slice(0, 40)}"`, this.#text.length);
    }
    this.#checkLeftRecursion();
  }

  /** Rules that can match the empty string (a fixed point: a rule is nullable through others). */
  #nullableRules(): Set<string> {
    const nullable = new Set<string>();
    const itemNullable = (item: Item): boolean =>
      item.optional || (item.kind === 'terminal' && item.empty) || (item.kind === 'ref' && nullable.has(item.name)) || (item.kind === 'group' && item.alternatives.some((items) => items.every(itemNullable)));
    for (let changed = true; changed; ) {
      changed = false;
      for (const [name, rule] of this.#rules) {
        if (!nullable.has(name) && rule.alternatives.some((items) => items.every(itemNullable))) {
          nullable.add(name);
          changed = true;
        }
      }
    }
    return nullable;
  }

  #checkLeftRecursion(): void {
    const nullable = this.#nullableRules();
    const itemNullable = (item: Item): boolean =>
      item.optional || (item.kind === 'terminal' && item.empty) || (item.kind === 'ref' && nullable.has(item.name)) || (item.kind === 'group' && item.alternatives.some((items) => items.every(itemNullable)));
    // The rules each rule can start with: those it references before anything that consumes input.
    const leftmost = (alternatives: Item[][], into: Set<string>): void => {
      for (const items of alternatives) {
        for (const item of items) {
          if (item.kind === 'ref') into.add(item.name);
          else if (item.kind === 'group') leftmost(item.alternatives, into);
          if (!itemNullable(item)) break;
        }
      }
    };
    const edges = new Map<string, Set<string>>();
    for (const [name, rule] of this.#rules) {
      const starts = new Set<string>();
      leftmost(rule.alternatives, starts);
      edges.set(name, starts);
    }
    // A cycle among those edges, found without recursion (a grammar may hold thousands of rules).
    const state = new Map<string, 'open' | 'done'>();
    for (const start of edges.keys()) {
      if (state.has(start)) continue;
      const stack: Array<[string, Iterator<string>]> = [[start, edges.get(start)!.values()]];
      state.set(start, 'open');
      while (stack.length > 0) {
        const [name, next] = stack[stack.length - 1];
        const step = next.next();
        if (step.done) {
          state.set(name, 'done');
          stack.pop();
          continue;
        }
        const target = step.value;
        if (state.get(target) === 'open') {
          throw new GbnfSyntaxError(`left recursion: rule "${target.slice(0, 40)}" can reach itself before matching any input (rewrite it to consume input first)`, this.#rules.get(target)?.at ?? 0);
        }
        if (!state.has(target)) {
          state.set(target, 'open');
          stack.push([target, (edges.get(target) ?? new Set<string>()).values()]);
        }
      }
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

  #char(start: number): number {
    if (this.#at(start) === '\\') {
      const escape = this.#at(start + 1);
      const hexDigits = escape === 'x' ? 2 : escape === 'u' ? 4 : escape === 'U' ? 8 : 0;
      if (hexDigits > 0) {
        for (let index = start + 2; index < start + 2 + hexDigits; index++) {
          if (!/[0-9a-fA-F]/.test(this.#at(index) ?? '')) throw new GbnfSyntaxError(`expecting ${hexDigits} hex digits`, start);
        }
        return start + 2 + hexDigits;
      }
      if (escape !== undefined && 'trn\\"[]-'.includes(escape)) return start + 2;
      throw new GbnfSyntaxError('unknown escape', start);
    }
    const codePoint = this.#text.codePointAt(start);
    if (codePoint === undefined) throw new GbnfSyntaxError('unexpected end of input', start);
    return start + (codePoint > 0xffff ? 2 : 1);
  }

  #rule(start: number): number {
    const nameEnd = this.#name(start);
    const name = this.#text.slice(start, nameEnd);
    this.#defined.add(name);
    this.#names.add(name);
    if (!this.#rules.has(name)) this.#rules.set(name, { alternatives: [], at: start });
    const alternatives = this.#rules.get(name)!.alternatives;
    let index = this.#space(nameEnd, false);
    if (this.#text.slice(index, index + 3) !== '::=') throw new GbnfSyntaxError('expecting "::="', index);
    index = this.#alternates(this.#space(index + 3, true), false, alternatives);
    if (this.#at(index) === '\r') index += this.#at(index + 1) === '\n' ? 2 : 1;
    else if (this.#at(index) === '\n') index++;
    else if (index < this.#text.length) throw new GbnfSyntaxError('expecting a newline or the end', index);
    return this.#space(index, true);
  }

  #alternates(start: number, nested: boolean, into: Item[][]): number {
    const first: Item[] = [];
    into.push(first);
    let index = this.#sequence(start, nested, first);
    while (this.#at(index) === '|') {
      const next: Item[] = [];
      into.push(next);
      index = this.#sequence(this.#space(index + 1, true), nested, next);
    }
    return index;
  }

  #sequence(start: number, nested: boolean, items: Item[]): number {
    let index = start;
    // Whether an item precedes a repetition operator, and how many rules it stands for.
    let hasItem = false;
    let previousRules = 1;
    const repeat = (at: number, min: bigint, max: bigint | typeof UNBOUNDED) => {
      if (!hasItem) throw new GbnfSyntaxError('expecting an item before */+/?/{', at);
      if (max !== UNBOUNDED && max < min) throw new GbnfSyntaxError('a repetition {m,n} needs n >= m', at);
      const total = max !== UNBOUNDED && max > 0n ? max : min > 0n ? min : 1n;
      if (BigInt(previousRules) * total > BigInt(MAX_REPETITIONS)) throw new GbnfSyntaxError(`repetitions multiply beyond ${MAX_REPETITIONS} rules`, at);
      const optional = max === UNBOUNDED ? 1 : Number(max - min);
      this.#generated += optional;
      hasItem = !(min === 0n && optional === 0);
      previousRules *= Number(total);
      if (min === 0n) items[items.length - 1].optional = true;
    };
    for (;;) {
      const char = this.#at(index);
      if (char === undefined) return index;
      const at = index;
      if (char === '"') {
        index++;
        let chars = 0;
        while (this.#at(index) !== '"') {
          if (index >= this.#text.length) throw new GbnfSyntaxError('unterminated string', at);
          index = this.#char(index);
          chars++;
        }
        [hasItem, previousRules] = [chars > 0, 1];
        items.push({ kind: 'terminal', empty: chars === 0, optional: false });
        index = this.#space(index + 1, nested);
      } else if (char === '[') {
        index++;
        if (this.#at(index) === '^') index++;
        let chars = 0;
        while (this.#at(index) !== ']') {
          if (index >= this.#text.length) throw new GbnfSyntaxError('unterminated character class', at);
          index = this.#char(index);
          chars++;
          if (this.#at(index) === '-' && this.#at(index + 1) !== ']') {
            if (index + 1 >= this.#text.length) throw new GbnfSyntaxError('unterminated character class', at);
            index = this.#char(index + 1);
          }
        }
        [hasItem, previousRules] = [chars > 0, 1];
        items.push({ kind: 'terminal', empty: false, optional: false });
        index = this.#space(index + 1, nested);
      } else if (char === '<' || char === '!') {
        if (char === '!') index++;
        if (this.#at(index) !== '<') throw new GbnfSyntaxError('expecting "<"', index);
        if (this.#at(index + 1) !== '[') throw new GbnfSyntaxError('only token ids (<[123]>) are accepted as tokens', index);
        index = this.#integer(index + 2)[1];
        if (this.#at(index) !== ']' || this.#at(index + 1) !== '>') throw new GbnfSyntaxError('expecting "]>"', index);
        [hasItem, previousRules] = [true, 1];
        items.push({ kind: 'terminal', empty: false, optional: false });
        index = this.#space(index + 2, nested);
      } else if (isWordChar(char)) {
        const nameEnd = this.#name(index);
        this.#referenced.add(this.#text.slice(index, nameEnd));
        this.#names.add(this.#text.slice(index, nameEnd));
        [hasItem, previousRules] = [true, 1];
        items.push({ kind: 'ref', name: this.#text.slice(index, nameEnd), optional: false });
        index = this.#space(nameEnd, nested);
      } else if (char === '(') {
        const before = this.#symbolCount();
        this.#generated++;
        const alternatives: Item[][] = [];
        index = this.#alternates(this.#space(index + 1, true), true, alternatives);
        [hasItem, previousRules] = [true, Math.max(1, this.#symbolCount() - before)];
        items.push({ kind: 'group', alternatives, optional: false });
        if (this.#at(index) !== ')') throw new GbnfSyntaxError('expecting ")"', index);
        index = this.#space(index + 1, nested);
      } else if (char === '.') {
        [hasItem, previousRules] = [true, 1];
        items.push({ kind: 'terminal', empty: false, optional: false });
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

/**
 * Why llama.cpp's parser would refuse the grammar ("expecting \")\" at line 2, column 7"), or
 * undefined when it parses. The reason never quotes the grammar beyond a rule name.
 */
export function gbnfSyntaxProblem(grammar: string): string | undefined {
  try {
    new GbnfChecker(grammar).check();
    return undefined;
  } catch (error) {
    if (!(error instanceof GbnfSyntaxError)) throw error;
    const before = grammar.slice(0, error.index);
    const line = before.split('\n').length;
    const column = error.index - before.lastIndexOf('\n');
    return `${error.what} at line ${line}, column ${column}`;
  }
}
