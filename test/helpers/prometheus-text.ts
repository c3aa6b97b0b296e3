// A strict reader of Prometheus' text exposition format (0.0.4), for tests of /metrics: it throws
// on what a Prometheus server would refuse — a malformed line, a HELP or TYPE given twice for one
// metric, a TYPE after that metric's samples, a metric's samples not kept together, the same series
// twice, a label named twice in one sample.

export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusFamily {
  help?: string;
  type?: string;
  samples: PrometheusSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const META = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`);
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES = ['_bucket', '_sum', '_count'];

/** A float as Go's strconv.ParseFloat (Prometheus' parser) reads it: NaN and Inf in any case (prom-client writes "Nan"). */
function parseValue(text: string, line: string): number {
  const special = text.toLowerCase();
  if (special === 'nan') return Number.NaN;
  if (special === '+inf' || special === 'inf' || special === '+infinity' || special === 'infinity') return Infinity;
  if (special === '-inf' || special === '-infinity') return -Infinity;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${line}`);
  return value;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest !== '') {
    const match = LABEL.exec(rest);
    if (match === null) throw new Error(`malformed labels: ${line}`);
    if (match[1] in labels) throw new Error(`label ${match[1]} given twice: ${line}`);
    labels[match[1]] = match[2].replace(/\\(["\\n])/g, (_all, escaped: string) => (escaped === 'n' ? '\n' : escaped));
    rest = rest.slice(match[0].length);
  }
  return labels;
}

/** The families of an exposition text by name, or an Error saying which line breaks the format. */
export function parsePrometheusText(text: string): Map<string, PrometheusFamily> {
  const families = new Map<string, PrometheusFamily>();
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const familyOf = (name: string) => {
    let family = families.get(name);
    if (family === undefined) families.set(name, (family = { samples: [] }));
    return family;
  };
  const enter = (name: string, line: string) => {
    if (current === name) return;
    if (closed.has(name)) throw new Error(`the lines of ${name} are not together: ${line}`);
    if (current !== undefined) closed.add(current);
    current = name;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const meta = META.exec(line);
      if (meta === null) continue; // a comment
      const [, kind, name, rest = ''] = meta;
      enter(name, line);
      const family = familyOf(name);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`HELP of ${name} given twice`);
        family.help = rest;
      } else {
        if (family.type !== undefined) throw new Error(`TYPE of ${name} given twice`);
        if (family.samples.length > 0) throw new Error(`TYPE of ${name} after its samples`);
        if (!TYPES.has(rest)) throw new Error(`unknown type: ${line}`);
        family.type = rest;
      }
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (sample === null) throw new Error(`malformed line: ${JSON.stringify(line)}`);
    const [, name, labelText = '', valueText] = sample;
    // A histogram's or summary's samples carry a suffix after their family's name.
    const base = SUFFIXES.filter((suffix) => name.endsWith(suffix)).map((suffix) => name.slice(0, -suffix.length))[0];
    const owner = !families.has(name) && base !== undefined && families.get(base)?.type !== undefined ? base : name;
    enter(owner, line);
    const labels = parseLabels(labelText, line);
    const series = `${name}{${Object.entries(labels)
      .sort(([left], [right]) => left.localeCompare(right))
      .map(([label, value]) => `${label}=${JSON.stringify(value)}`)
      .join(',')}}`;
    if (seenSeries.has(series)) throw new Error(`series given twice: ${series}`);
    seenSeries.add(series);
    familyOf(owner).samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  return families;
}
