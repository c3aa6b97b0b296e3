// Finds the line of a key path in TOML source, so a schema error can point an operator at the
// line to fix. @iarna/toml gives positions only for syntax errors, not for parsed values.

/** Splits a dotted TOML key (`api.models."my.model"`) into its parts. */
function splitTomlKey(key: string): string[] {
  const parts: string[] = [];
  const pattern = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)/y;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < key.length && (match = pattern.exec(key)) !== null) {
    parts.push(match[1] ?? match[2] ?? match[3] ?? '');
  }
  return parts;
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, index) => path[index] === part);
}

/**
 * The 1-based line where `path` (or its deepest ancestor that appears) is written, or undefined.
 * Handles tables, arrays of tables (by counting `[[x]]` headers), and dotted keys.
 */
export function locateKey(source: string, path: readonly (string | number)[]): number | undefined {
  const lines = source.split(/\r?\n/);
  let table: string[] = [];
  const arrayCounts = new Map<string, number>();
  let best: { line: number; depth: number } | undefined;

  const consider = (fullPath: (string | number)[], line: number) => {
    let depth = 0;
    while (depth < fullPath.length && depth < path.length && String(fullPath[depth]) === String(path[depth])) depth++;
    if (depth === fullPath.length && (!best || depth > best.depth)) best = { line, depth };
  };

  lines.forEach((raw, index) => {
    const line = raw.trim();
    const lineNumber = index + 1;
    const arrayHeader = /^\[\[\s*(.+?)\s*\]\]/.exec(line);
    const tableHeader = arrayHeader ? null : /^\[\s*(.+?)\s*\]/.exec(line);
    if (arrayHeader) {
      const name = splitTomlKey(arrayHeader[1]);
      const joined = name.join('\u0000');
      const position = arrayCounts.get(joined) ?? 0;
      arrayCounts.set(joined, position + 1);
      table = [...name, String(position)];
      consider(table, lineNumber);
      return;
    }
    if (tableHeader) {
      table = splitTomlKey(tableHeader[1]);
      consider(table, lineNumber);
      return;
    }
    const assignment = /^((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.\s-])+?)\s*=/.exec(line);
    if (assignment && !line.startsWith('#')) {
      const key = [...table, ...splitTomlKey(assignment[1])];
      if (startsWith(path.map(String), key) || startsWith(key, path.map(String).slice(0, key.length))) consider(key, lineNumber);
    }
  });
  return best?.line;
}
