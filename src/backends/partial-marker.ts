// Text generated piece by piece may end with the beginning of a marker (`</think>`, `</tool_call>`)
// whose rest has not come yet: such an end is held back until the next piece tells which it is.

/** The length of the longest end of `text` that `marker` begins with, short of the whole marker (what may not be released yet). */
export function partialMarkerAtEnd(text: string, marker: string): number {
  for (let length = Math.min(text.length, marker.length - 1); length > 0; length--) {
    if (marker.startsWith(text.slice(-length))) return length;
  }
  return 0;
}
