// The escapes of Prometheus' text format, for the lines the gateway writes itself.

/** A HELP text: backslashes and line feeds escaped. */
export const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A label value: as a HELP text, and its double quotes escaped. */
export const escapeLabelValue = (text: string) => escapeHelp(text).replace(/"/g, '\\"');
