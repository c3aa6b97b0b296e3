// What a GBNF grammar will cost llama.cpp, measured on its text before llama.cpp sees it.
//
// llama.cpp parses a grammar on the calling thread (the gateway's event loop) and rewrites every
// bounded repetition `x{m,n}` into m copies of x and a chain of n - m optional rules. The sampler
// then keeps one parse stack per way the text so far can be read, and advances every stack at every
// token, inside the decode step that all of the model's requests share. Repetitions that can read
// the same text multiply those stacks: `"a"{0,1999}` 400 times (4.8 KB) expanded to ~800,000 rules,
// took 3 s to parse and made each token cost seconds, stalling every request on the model. Measured
// on 2 cores with a 512-token vocabulary: 10 × `"a"{0,100}` costs at most 33 ms a token, 20 × 96 ms,
// 40 × 1.3 s; the cost grows faster than the sum of the repetitions.
//
// Two figures are computed, each with its limit:
// - elements: the size of the grammar after llama.cpp's expansion (parse time and memory);
// - repetition weight: the positions repetitions open (each repetition's copies times the positions
//   inside the repeated unit, so nested repetitions and repeated rule references multiply), counted
//   once more for every other optional repetition beside it in its sequence (see sequenceOf). An
//   estimate of the parse stacks the sampler advances at each token, the driver of its cost.
// The parser follows llama.cpp's (src/llama-grammar.cpp) closely enough to count; syntax it does
// not understand is left for llama.cpp to reject.

/** Longest grammar text accepted, in characters. */
export const MAX_GRAMMAR_CHARACTERS = 65_536;
/** Most grammar elements after llama.cpp expands repetitions (about 35 ms of parsing on one core). */
export const MAX_GRAMMAR_ELEMENTS = 65_536;
/** Largest repetition weight (see above): keeps a token's grammar work under ~100 ms (measured). */
export const MAX_GRAMMAR_REPETITION_WEIGHT = 32_768;

/** llama.cpp treats a repetition bound above this as unbounded (MAX_REPETITION_THRESHOLD). */
const LLAMA_REPETITION_THRESHOLD = 2000;
/** Groups nested deeper than this are refused: llama.cpp's parser recurses once per level. */
const MAX_GROUP_NESTING = 64;

export interface GrammarComplexity {
  characters: number;
  elements: number;
  repetitionWeight: number;
}

type Token =
  | { kind: 'name'; text: string }
  | { kind: 'define' | 'bar' | 'open' | 'close' }
  | { kind: 'terminal'; elements: number }
  | { kind: 'repeat'; min: number; max: number | undefined };

/** One item of a sequence, or a whole rule. */
interface Item {
  /** Elements a repetition of this item copies. */
  elements: number;
  /** Elements defined once however often the item repeats (a group's own rule). */
  shared: number;
  /** Summed once every rule is known (a list, not nested closures: a long rule must not recurse deeply). */
  positions: Array<() => number>;
  /** A repetition that may match nothing (`x?`, `x*`, `x{0,n}`). */
  optional: boolean;
}

function emptyItem(): Item {
  return { elements: 0, shared: 0, positions: [], optional: false };
}

function positionsOfItem(item: Item): number {
  let total = 0;
  for (const part of item.positions) total += part();
  return total;
}

/**
 * A sequence of items. Adjacent optional repetitions can each take the next character, and llama.cpp
 * advances every stack through all of them, so a run of k of them counts its positions k times:
 * 20 × `"a"{0,100}` then weighs 40,000 (96 ms a token measured), 40 × 160,000 (1.3 s).
 */
function sequenceOf(items: readonly Item[]): Item {
  const total = emptyItem();
  let run: Item[] = [];
  const closeRun = (): void => {
    if (run.length === 0) return;
    const members = run;
    total.positions.push(() => members.reduce((sum, member) => sum + positionsOfItem(member), 0) * members.length);
    run = [];
  };
  for (const item of items) {
    total.elements += item.elements;
    total.shared += item.shared;
    if (item.optional) {
      run.push(item);
      continue;
    }
    closeRun();
    for (const part of item.positions) total.positions.push(part);
  }
  closeRun();
  return total;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  const skipQuoted = (close: string): number => {
    let count = 0;
    at++;
    while (at < text.length && text[at] !== close) {
      at += text[at] === '\\' ? 2 : 1;
      count++;
    }
    at++;
    return count;
  };
  while (at < text.length) {
    const char = text[at];
    if (char === '#') {
      while (at < text.length && text[at] !== '\n') at++;
    } else if (/\s/.test(char)) {
      at++;
    } else if (text.startsWith('::=', at)) {
      tokens.push({ kind: 'define' });
      at += 3;
    } else if (char === '"') {
      tokens.push({ kind: 'terminal', elements: Math.max(1, skipQuoted('"')) });
    } else if (char === '[') {
      tokens.push({ kind: 'terminal', elements: Math.max(1, skipQuoted(']')) });
    } else if (char === '<' || (char === '!' && text[at + 1] === '<')) {
      at += char === '!' ? 1 : 0;
      skipQuoted('>');
      tokens.push({ kind: 'terminal', elements: 1 });
    } else if (char === '.') {
      tokens.push({ kind: 'terminal', elements: 1 });
      at++;
    } else if (char === '|' || char === '(' || char === ')') {
      tokens.push({ kind: char === '|' ? 'bar' : char === '(' ? 'open' : 'close' });
      at++;
    } else if (char === '*' || char === '+' || char === '?') {
      tokens.push({ kind: 'repeat', min: char === '+' ? 1 : 0, max: char === '?' ? 1 : undefined });
      at++;
    } else if (char === '{') {
      const match = /^\{\s*(\d+)\s*(?:(,)\s*(\d*)\s*)?\}/.exec(text.slice(at, at + 64));
      if (match === null) {
        at++;
        continue;
      }
      const min = Number(match[1]);
      const max = match[2] === undefined ? min : match[3] === '' ? undefined : Number(match[3]);
      tokens.push({ kind: 'repeat', min, max: max !== undefined && max > LLAMA_REPETITION_THRESHOLD ? undefined : max });
      at += match[0].length;
    } else {
      const name = /^[A-Za-z0-9_-]+/.exec(text.slice(at, at + 256));
      if (name === null) {
        at++;
        continue;
      }
      tokens.push({ kind: 'name', text: name[0] });
      at += name[0].length;
    }
  }
  return tokens;
}

/** The rules of a grammar: each one's elements and positions. */
class GrammarShape {
  readonly rules = new Map<string, Item>();
  readonly #tokens: Token[];
  #at = 0;
  #depth = 0;

  /** `positionsOfRule` resolves a reference once every rule has been read. */
  constructor(text: string, private readonly positionsOfRule: (name: string) => number) {
    this.#tokens = tokenize(text);
    while (this.#at < this.#tokens.length) {
      const token = this.#tokens[this.#at];
      if (token.kind === 'name' && this.#tokens[this.#at + 1]?.kind === 'define') {
        this.#at += 2;
        const body = this.#alternates();
        const previous = this.rules.get(token.text);
        this.rules.set(token.text, previous === undefined ? body : join(previous, body));
      } else {
        this.#at++;
      }
    }
  }

  #startsRule(): boolean {
    return this.#tokens[this.#at]?.kind === 'name' && this.#tokens[this.#at + 1]?.kind === 'define';
  }

  /** `a | b | c`: one ALT or END element per alternative. */
  #alternates(): Item {
    const total = emptyItem();
    for (;;) {
      join(total, this.#sequence());
      total.elements++;
      if (this.#tokens[this.#at]?.kind !== 'bar') return total;
      this.#at++;
    }
  }

  #sequence(): Item {
    const items: Item[] = [];
    for (;;) {
      const token = this.#tokens[this.#at];
      if (token === undefined || token.kind === 'bar' || token.kind === 'close' || this.#startsRule()) return sequenceOf(items);
      this.#at++;
      if (token.kind === 'repeat') {
        const last = items.pop();
        if (last !== undefined) items.push(repeated(last, token.min, token.max));
      } else if (token.kind === 'terminal') {
        items.push({ elements: token.elements, shared: 0, positions: [], optional: false });
      } else if (token.kind === 'name') {
        items.push({ elements: 1, shared: 0, positions: [() => this.positionsOfRule(token.text)], optional: false });
      } else if (token.kind === 'open') {
        // A group becomes a rule of its own; the sequence holds one reference to it.
        if (++this.#depth > MAX_GROUP_NESTING) throw new RangeError('groups nested too deeply');
        const group = this.#alternates();
        this.#depth--;
        if (this.#tokens[this.#at]?.kind === 'close') this.#at++;
        items.push({ elements: 1, shared: group.elements + group.shared, positions: group.positions, optional: false });
      }
    }
  }
}

/** Adds `right` to `left` (which is changed and returned). */
function join(left: Item, right: Item): Item {
  left.elements += right.elements;
  left.shared += right.shared;
  for (const part of right.positions) left.positions.push(part);
  return left;
}

/**
 * `x{min,max}` as llama.cpp rewrites it: min copies of x, then max - min optional rules (one
 * recursive rule when unbounded), each holding x again. Positions: every copy of x can hold the
 * parse, each with the positions inside x; fixed copies of a plain terminal open none.
 */
function repeated(unit: Item, min: number, max: number | undefined): Item {
  const optionalRules = max === undefined ? 1 : max - min;
  const copies = min + optionalRules;
  return {
    elements: Math.max(0, min - 1) * unit.elements + optionalRules * (unit.elements + 3) + (min === 0 ? 1 : unit.elements + 1),
    shared: unit.shared,
    optional: min === 0,
    positions: [
      () => {
        const inner = positionsOfItem(unit);
        return optionalRules === 0 && inner === 0 ? 0 : copies * Math.max(1, inner);
      },
    ],
  };
}

/** The grammar's figures; rules referenced but not defined count nothing (llama.cpp rejects them). */
export function measureGrammar(text: string): GrammarComplexity {
  const resolved = new Map<string, number>();
  const resolving = new Set<string>();
  // A rule's positions with those of the rules it references; recursion adds nothing more.
  const positionsOf = (name: string): number => {
    const known = resolved.get(name);
    if (known !== undefined) return known;
    const rule = shape.rules.get(name);
    if (rule === undefined || resolving.has(name)) return 0;
    resolving.add(name);
    const positions = positionsOfItem(rule);
    resolving.delete(name);
    resolved.set(name, positions);
    return positions;
  };
  const shape = new GrammarShape(text, positionsOf);
  let elements = 0;
  for (const rule of shape.rules.values()) elements += rule.elements + rule.shared;
  return { characters: text.length, elements, repetitionWeight: positionsOf('root') };
}

/** Why the grammar is refused, naming the limit; undefined when it is within every limit. */
export function grammarComplexityProblem(text: string): string | undefined {
  if (text.length > MAX_GRAMMAR_CHARACTERS) return `the grammar is ${text.length} characters long; the limit is ${MAX_GRAMMAR_CHARACTERS}`;
  let measured: GrammarComplexity;
  try {
    measured = measureGrammar(text);
  } catch (error) {
    // Groups or rule references nested thousands deep: llama.cpp's own parser recurses as deep.
    if (error instanceof RangeError) return `the grammar nests groups (limit ${MAX_GROUP_NESTING} levels) or rule references too deeply`;
    throw error;
  }
  if (measured.elements > MAX_GRAMMAR_ELEMENTS) {
    return `the grammar expands to about ${measured.elements} elements once its repetitions are unrolled; the limit is ${MAX_GRAMMAR_ELEMENTS} (lower the repetition bounds)`;
  }
  if (measured.repetitionWeight > MAX_GRAMMAR_REPETITION_WEIGHT) {
    return `the grammar's repetition weight is about ${measured.repetitionWeight} (the bounds of its repetitions x{m,n}, multiplied when nested or side by side); the limit is ${MAX_GRAMMAR_REPETITION_WEIGHT}, beyond which every token costs the model too long`;
  }
  return undefined;
}
