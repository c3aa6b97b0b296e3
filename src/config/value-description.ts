// How a found value is named in a config error, the way an operator wrote it, without ever
// repeating a secret: config errors reach the reload endpoint's answer and error-level log lines.

/**
 * Keys whose values are secrets, or hashes of them: api_key, key, key_sha256, a plugin's token,
 * secret or password. Names of environment variables (`*_env`) and counts (`max_tokens…`) are not.
 */
const SECRET_KEY = /(^|_)(keys?|secret|password|passwd|token|credentials?|sha256)(_sha256)?$|apikey/i;

export function isSecretKey(name: string): boolean {
  return !name.endsWith('_env') && SECRET_KEY.test(name);
}

/** A URL with its password masked ("redis://user:***@host"); other text unchanged. */
export function maskUrlPassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/i, '$1***@');
}

function kindOf(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === 'object' && value !== null) return 'a table';
  return `a ${typeof value}`;
}

/**
 * Describes a found value: "the string "4096"", "the integer 3", "a table", "nothing". Under a
 * secret key (`secret`), only its kind and length: "a string of 57 characters (redacted)".
 */
export function describeValue(value: unknown, options: { secret?: boolean } = {}): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  // A boolean under a key like allow_query_key is no secret, and naming it helps.
  if (options.secret && typeof value !== 'boolean') return `${kindOf(value)} (redacted)`;
  if (Array.isArray(value)) return `an array (${maskUrlPassword(JSON.stringify(value)).slice(0, 60)})`;
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'string') {
    const shown = maskUrlPassword(value);
    return `the string ${JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown)}`;
  }
  if (typeof value === 'number') return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  return `${typeof value} ${String(value)}`;
}
