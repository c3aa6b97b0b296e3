// The engines' own Prometheus metrics (a llama-server process's --metrics), read at scrape time
// and appended to the gateway's: every sample labelled model="<id>", and each metric's HELP and
// TYPE written once however many models report it (Prometheus refuses a text that repeats them).
import { escapeLabelValue } from './exposition-text.js';

/** One model's engine metrics: its id, and how to read them now. */
export interface EngineMetricsSource {
  model: string;
  read(signal: AbortSignal): Promise<string>;
}

export interface EngineMetricsScrape {
  /** The merged exposition text ('' when no engine answered). */
  text: string;
  /** The models whose engine did not answer within the time given, or answered an error. */
  failed: string[];
}

/** Reads every source at once, each within `timeoutMs`; one that fails or is late is left out and named in `failed`. */
export async function scrapeEngineMetrics(sources: readonly EngineMetricsSource[], timeoutMs: number): Promise<EngineMetricsScrape> {
  const late = new AbortController();
  // The scrape ends at the deadline even if a source does not heed its signal.
  const deadline = new Promise<undefined>((resolve) => {
    const timer = setTimeout(() => {
      late.abort(new Error(`no answer within ${timeoutMs} ms`));
      resolve(undefined);
    }, timeoutMs);
    late.signal.addEventListener('abort', () => clearTimeout(timer));
  });
  const answers = await Promise.all(
    sources.map(async (source) => {
      const text = await Promise.race([source.read(late.signal).catch(() => undefined), deadline]);
      return { source, text };
    }),
  );
  late.abort(new Error('the scrape is over'));
  const families = new MetricFamilies();
  const failed: string[] = [];
  for (const { source, text } of answers) {
    if (text === undefined) failed.push(source.model);
    else families.add(text, source.model);
  }
  return { text: families.exposition(), failed };
}

/**
 * `work` run once for every caller that asks while it runs: concurrent /metrics requests share
 * one engine scrape, since each sends a task to every llama-server's main loop and /metrics may be
 * open to anyone. A call after it settled runs it afresh.
 */
export function sharedWhileInFlight<T>(work: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () =>
    (inFlight ??= work().finally(() => {
      inFlight = undefined;
    }));
}

interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/** Metric families gathered from several texts, in the order first seen, their samples relabelled. */
class MetricFamilies {
  readonly #families = new Map<string, Family>();

  add(text: string, model: string): void {
    // Samples belong to the family whose HELP or TYPE came last when their name starts with its
    // name (a histogram's _bucket, _sum and _count); any other sample is a family of its own.
    let current: string | undefined;
    for (const line of text.split('\n')) {
      const trimmed = line.trim();
      if (trimmed === '') continue;
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(trimmed);
      if (meta !== null) {
        const [, kind, name, rest = ''] = meta;
        current = name;
        const family = this.#family(name);
        if (kind === 'HELP') family.help ??= rest;
        else family.type ??= rest;
        continue;
      }
      if (trimmed.startsWith('#')) continue;
      const sample = parseSample(trimmed);
      if (sample === undefined) continue; // not a sample line: leaving it out keeps the text valid
      const owner = current !== undefined && sample.name.startsWith(current) ? current : sample.name;
      this.#family(owner).samples.push(sample.withLabel('model', model));
    }
  }

  exposition(): string {
    const lines: string[] = [];
    for (const [name, family] of this.#families) {
      if (family.samples.length === 0) continue;
      if (family.help !== undefined) lines.push(`# HELP ${name} ${family.help}`);
      if (family.type !== undefined) lines.push(`# TYPE ${name} ${family.type}`);
      lines.push(...family.samples);
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }

  #family(name: string): Family {
    let family = this.#families.get(name);
    if (family === undefined) this.#families.set(name, (family = { samples: [] }));
    return family;
  }
}

interface Sample {
  name: string;
  /** The sample line with `label="value"` first among its labels; an engine's own label of that name becomes exported_<label>. */
  withLabel(label: string, value: string): string;
}

/** `name{labels} value [timestamp]`, its label block read with quotes and escapes respected. */
function parseSample(line: string): Sample | undefined {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (name === undefined) return undefined;
  let labels: string[] = [];
  let rest = line.slice(name.length);
  if (rest.startsWith('{')) {
    const parsed = parseLabels(rest);
    if (parsed === undefined) return undefined;
    labels = parsed.labels;
    rest = parsed.rest;
  }
  // A value, and perhaps a timestamp.
  if (!/^\s+\S+(\s+-?\d+)?\s*$/.test(rest)) return undefined;
  return {
    name,
    withLabel(label, value) {
      const own = labels.map((pair) => (pair.startsWith(`${label}=`) ? `exported_${pair}` : pair));
      return `${name}{${[`${label}="${escapeLabelValue(value)}"`, ...own].join(',')}}${rest}`;
    },
  };
}

/** The `label="value"` pairs of a `{...}` block and the text after it, or undefined when it is malformed. */
function parseLabels(text: string): { labels: string[]; rest: string } | undefined {
  const labels: string[] = [];
  let position = 1;
  for (;;) {
    while (text[position] === ' ' || text[position] === ',') position++;
    if (text[position] === '}') return { labels, rest: text.slice(position + 1) };
    const label = /^[a-zA-Z_][a-zA-Z0-9_]*\s*=\s*"/.exec(text.slice(position));
    if (label === null) return undefined;
    const start = position;
    position += label[0].length;
    while (position < text.length && text[position] !== '"') position += text[position] === '\\' ? 2 : 1;
    if (position >= text.length) return undefined;
    position++;
    labels.push(text.slice(start, position).replace(/\s*=\s*/, '='));
  }
}
