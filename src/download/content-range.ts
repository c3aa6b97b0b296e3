// Reads the Content-Range header of a 206 or 416 answer: a resumed download may only append when
// the server starts exactly where the partial file ends, and a 416 says how long the file is.

export interface ContentRange {
  /** First byte sent; absent in the 416 form, `bytes *\/N`. */
  start?: number;
  /** Last byte sent, inclusive. */
  end?: number;
  /** Length of the whole file; absent when the server answers `/*`. */
  total?: number;
}

const SATISFIED = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i;
const UNSATISFIED = /^bytes \*\/(\d+)$/i;

/** The parsed header, or undefined when it is missing or malformed. */
export function parseContentRange(value: string | null): ContentRange | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  const unsatisfied = UNSATISFIED.exec(text);
  if (unsatisfied) return { total: Number(unsatisfied[1]) };
  const satisfied = SATISFIED.exec(text);
  if (!satisfied) return undefined;
  const start = Number(satisfied[1]);
  const end = Number(satisfied[2]);
  if (end < start) return undefined;
  return { start, end, total: satisfied[3] === '*' ? undefined : Number(satisfied[3]) };
}
