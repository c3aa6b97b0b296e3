// Thinking segments of a chat template (`<think>…</think>` and its kin), for every GGUF engine: which
// markers a template uses, whether a rendered prompt leaves the reply inside a thought, how many
// thought tokens a request allows, and the splitter that turns the generated text into thought and
// answer as it streams. Both engines generate the raw text (the in-process token loop, llama-server's
// native /completion) and split it here, so the two answer alike.
import type { GenerationEventListener, ReasoningEffort } from '../engine/contract.js';
import { partialMarkerAtEnd } from './partial-marker.js';

export interface ThoughtMarkers {
  start: string;
  end: string;
}

/**
 * The marker pairs models are trained with, as node-llama-cpp's template analysis knows them:
 * Seed-OSS; DeepSeek-R1, QwQ, Qwen3; EXAONE Deep; Mistral (Magistral); Command R7B; JoyAI.
 */
const KNOWN_MARKERS: readonly ThoughtMarkers[] = [
  { start: '<seed:think>', end: '</seed:think>' },
  { start: '<think>', end: '</think>' },
  { start: '<thought>', end: '</thought>' },
  { start: '[THINK]', end: '[/THINK]' },
  { start: '<|START_THINKING|>', end: '<|END_THINKING|>' },
  { start: '<|begin_of_thought|>', end: '<|end_of_thought|>' },
];

/** The thinking segment of a rendered chat prompt whose template has one. */
export interface PromptThought {
  markers: ThoughtMarkers;
  /** The prompt leaves the reply inside a thought (the template opened it). */
  opensInThought: boolean;
}

/** The thought markers a Jinja chat template writes, or undefined for a template without thinking segments. */
export function thoughtMarkersOf(template: string | undefined): ThoughtMarkers | undefined {
  if (template === undefined) return undefined;
  return KNOWN_MARKERS.find((markers) => template.includes(markers.start) && template.includes(markers.end));
}

/**
 * Whether a rendered prompt leaves the reply inside a thought: the template's generation prompt
 * ends with the start marker. Only its end is looked at: a start marker earlier in the prompt is
 * client text (an unclosed `<think>` in a user message), never a thought the reply continues.
 */
export function promptOpensThought(prompt: string, markers: ThoughtMarkers): boolean {
  return prompt.trimEnd().endsWith(markers.start.trimEnd());
}

/**
 * Thought tokens each `reasoning_effort` allows, before the model's own `max_thinking_tokens`
 * caps it: `none` renders no thought at all (0), `high` (like no effort) leaves the model its whole
 * thought. The steps follow the ratios the effort levels of hosted reasoning models are quoted at.
 */
const EFFORT_BUDGET: Record<ReasoningEffort, number | undefined> = { none: 0, minimal: 256, low: 1024, medium: 4096, high: undefined };

/** The smallest effort whose budget covers `tokens` (what an engine that takes only an effort is given for an exact budget). */
export function effortCovering(tokens: number): ReasoningEffort {
  const levels: ReasoningEffort[] = ['minimal', 'low', 'medium'];
  return levels.find((level) => (EFFORT_BUDGET[level] ?? Infinity) >= tokens) ?? 'high';
}

/** The thought tokens a generation may spend (undefined: no limit); an exact budget (`thinkingTokens`) wins over the effort's. */
export function thinkingBudget(effort: ReasoningEffort | undefined, maxThinkingTokens: number | undefined, thinkingTokens?: number): number | undefined {
  const fromEffort = thinkingTokens ?? (effort === undefined ? undefined : EFFORT_BUDGET[effort]);
  if (fromEffort === undefined) return maxThinkingTokens;
  return maxThinkingTokens === undefined ? fromEffort : Math.min(fromEffort, maxThinkingTokens);
}

/** Whether a request leaves no room for a thought (`reasoning_effort: "none"`, or `max_thinking_tokens = 0`): the prompt closes it. */
export function thinkingIsOff(effort: ReasoningEffort | undefined, maxThinkingTokens: number | undefined): boolean {
  return thinkingBudget(effort, maxThinkingTokens) === 0;
}

/**
 * What closes, empty, a thought the prompt opened: after the template's `<think>\n` it reads as
 * Qwen3's `enable_thinking = false` writes it (`<think>\n\n</think>\n\n`), so the reply starts as
 * the model was trained to start an answer. Written after a prompt whose template has no such
 * switch, and before a reply a grammar constrains (a grammar leaves no room for a thought).
 */
export function thoughtClosing(markers: ThoughtMarkers): string {
  return `\n${markers.end}\n\n`;
}

/** A piece of the reply, as thought or as answer. */
export interface SplitPiece {
  kind: 'reasoning' | 'text';
  text: string;
}

/**
 * Splits generated text into thought and answer as it arrives, markers possibly cut across pieces.
 * A thought is open from the start (the prompt opened it) or when the reply starts with the start
 * marker; it ends at the end marker, which opens the answer. The markers and the blank lines around
 * them belong to neither; once the answer has begun, a marker is plain text.
 */
export class ThoughtSplitter {
  readonly #markers: ThoughtMarkers;
  #state: 'before' | 'thought' | 'answer';
  /** Text not yet released: a possible marker's beginning, or blanks whose side is not known yet. */
  #held = '';
  #thoughtStarted = false;
  #answerStarted = false;

  constructor(markers: ThoughtMarkers, options: { opensInThought: boolean }) {
    this.#markers = markers;
    this.#state = options.opensInThought ? 'thought' : 'before';
  }

  /** Whether the text so far leaves the reply inside its thought. */
  get inThought(): boolean {
    return this.#state === 'thought';
  }

  push(piece: string): SplitPiece[] {
    this.#held += piece;
    const out: SplitPiece[] = [];
    for (;;) {
      if (this.#state === 'before') {
        const trimmed = this.#held.trimStart();
        if (trimmed === '') return out;
        if (trimmed.startsWith(this.#markers.start)) {
          this.#held = trimmed.slice(this.#markers.start.length);
          this.#state = 'thought';
          continue;
        }
        if (this.#markers.start.startsWith(trimmed)) return out;
        this.#state = 'answer';
        continue;
      }
      if (this.#state === 'thought') {
        const end = this.#held.indexOf(this.#markers.end);
        if (end >= 0) {
          this.#releaseThought(this.#held.slice(0, end).trimEnd(), out);
          this.#held = this.#held.slice(end + this.#markers.end.length);
          this.#state = 'answer';
          continue;
        }
        // Held: a possible end marker's beginning, and blanks that may precede the end marker.
        const partial = partialMarkerAtEnd(this.#held, this.#markers.end);
        const before = this.#held.slice(0, this.#held.length - partial);
        const keep = partial + before.length - before.trimEnd().length;
        this.#releaseThought(this.#held.slice(0, this.#held.length - keep), out);
        this.#held = this.#held.slice(this.#held.length - keep);
        return out;
      }
      this.#releaseAnswer(this.#held, out);
      this.#held = '';
      return out;
    }
  }

  /** End of the reply: what is held is released (an unfinished thought stays a thought, blanks at its end dropped). */
  finish(): SplitPiece[] {
    const out: SplitPiece[] = [];
    if (this.#state === 'thought') this.#releaseThought(this.#held.trimEnd(), out);
    else this.#releaseAnswer(this.#held, out);
    this.#held = '';
    return out;
  }

  #releaseThought(text: string, out: SplitPiece[]): void {
    const released = this.#thoughtStarted ? text : text.trimStart();
    if (released === '') return;
    this.#thoughtStarted = true;
    out.push({ kind: 'reasoning', text: released });
  }

  #releaseAnswer(text: string, out: SplitPiece[]): void {
    const released = this.#answerStarted ? text : text.trimStart();
    if (released === '') return;
    this.#answerStarted = true;
    out.push({ kind: 'text', text: released });
  }
}

/**
 * The reply's final text as an engine releases it: split into thought and answer when the prompt
 * has a thinking segment (else all answer), reported as `reasoning` and `text` events and gathered.
 * A returned promise is the reader being behind (see GenerationOptions.onEvent).
 */
export class ReplyWriter {
  text = '';
  reasoning = '';
  readonly #splitter: ThoughtSplitter | undefined;
  readonly #onEvent: GenerationEventListener | undefined;

  constructor(thought: PromptThought | undefined, onEvent: GenerationEventListener | undefined) {
    this.#splitter = thought === undefined ? undefined : new ThoughtSplitter(thought.markers, thought);
    this.#onEvent = onEvent;
  }

  /** Whether the text so far leaves the reply inside its thought. */
  get inThought(): boolean {
    return this.#splitter?.inThought === true;
  }

  write(piece: string): void | Promise<void> {
    if (piece === '') return;
    return this.#report(this.#splitter === undefined ? [{ kind: 'text', text: piece }] : this.#splitter.push(piece));
  }

  /** End of the reply: what the splitter held. */
  finish(): void | Promise<void> {
    return this.#splitter === undefined ? undefined : this.#report(this.#splitter.finish());
  }

  #report(pieces: SplitPiece[]): void | Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const piece of pieces) {
      if (piece.kind === 'reasoning') this.reasoning += piece.text;
      else this.text += piece.text;
      const wait = this.#onEvent?.({ type: piece.kind, text: piece.text });
      if (wait !== undefined) waits.push(wait);
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => undefined);
  }
}
