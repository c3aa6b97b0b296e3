// Where a download comes from and where it lands: only http(s) URLs, and a file name taken from
// the URL when the destination is a directory.
import { stat } from 'node:fs/promises';
import path from 'node:path';

/** The URL, or an Error saying why it cannot be downloaded. */
export function parseDownloadUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`only http: and https: URLs can be downloaded, got ${url.protocol}`);
  }
  // fetch refuses URLs with credentials; say so before the first request rather than retrying it.
  if (url.username !== '' || url.password !== '') throw new Error('URLs with a user name or password are not supported');
  return url;
}

/** The URL without its query or fragment, which may carry signed tokens that must not reach the log. */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The last path segment of the URL, decoded; throws when there is none that is safe as a file name. */
export function fileNameFromUrl(url: URL): string {
  const segments = url.pathname.split('/').filter((segment) => segment !== '');
  const last = segments.at(-1);
  let name: string | undefined;
  try {
    name = last === undefined ? undefined : decodeURIComponent(last);
  } catch {
    name = undefined;
  }
  if (name === undefined || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new Error(`cannot name a file after ${displayUrl(url)}; give a destination file instead of a directory`);
  }
  return name;
}

/**
 * The absolute file to write. `destination` is a directory when it exists as one or ends with a
 * path separator (the file is then named after the URL); anything else is the file itself.
 */
export async function resolveDownloadTarget(url: URL, destination: string): Promise<string> {
  const resolved = path.resolve(destination);
  const endsWithSeparator = destination.endsWith('/') || destination.endsWith(path.sep);
  const info = await stat(resolved).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (endsWithSeparator || info?.isDirectory()) return path.join(resolved, fileNameFromUrl(url));
  return resolved;
}
